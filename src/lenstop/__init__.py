"""lenstop: RBC transfusion independence after lenalidomide discontinuation in del(5q) MDS.

The package holds every step the notebooks and the manuscript rely on: the data dictionary
(`schema`), readers (`io`), validation (`validate`), analysis variables (`derive`), the
calibrated synthetic cohort (`synthetic`), statistics (`stats`) and the results file.
"""

__version__ = "0.1.0"

import sys

# jsonschema imports rfc3987_syntax, when installed, for its "iri" format checks, and that
# module builds a parser at import (~0.9 s); nothing here checks IRIs
sys.modules.setdefault("rfc3987_syntax", None)
