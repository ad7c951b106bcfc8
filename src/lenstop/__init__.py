"""lenstop: RBC transfusion independence after lenalidomide discontinuation in del(5q) MDS.

The package holds every step the notebooks and the manuscript rely on, one folder per stage of
the data flow: `ingest` (data dictionary, readers, crosswalk, validation, the synthetic cohort)
-> `cohort` (analysis variables, the validated cohort of a build) -> `stats` -> `analyses` (what
each notebook computes) -> `content` (numbers, tables, figures) -> `manuscript` (results file,
variables, render); beside them `disclosure` (suppression, where data may go, the leak scan)
and `workflow` (the build, Snakemake, the notebook step and its warm kernels).
"""

__version__ = "0.1.0"

import sys

# jsonschema imports rfc3987_syntax, when installed, for its "iri" format checks, and that
# module builds a parser at import (~0.9 s); nothing here checks IRIs
sys.modules.setdefault("rfc3987_syntax", None)
