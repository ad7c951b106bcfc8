"""Statistics for the study: documented wrappers over lifelines, statsmodels and scipy.

Cox and Fine-Gray models are fitted by a vectorised Efron engine (`_efron`) that scales to
registry-sized cohorts; the tests check it against R, statsmodels and lifelines. The
proportional-hazards test is R's cox.zph (`zph`), the linearity test an ns() spline LR test
(`linearity`), and `endpoints` summarises every time-to-event endpoint of `derive.ENDPOINTS`.

Every function takes a DataFrame plus explicit column names and returns JSON-friendly
results (`to_dict()` on the result objects) so notebooks can write them to results.json.
"""

from lenstop.stats.competing import (
    CIFSummary,
    FineGrayResult,
    cif_median,
    cumulative_incidence,
    fine_gray,
    finegray_expand,
)
from lenstop.stats.cox import (
    MIN_EVENTS_PER_TERM,
    CoxResult,
    ModelNotEstimable,
    cox_fit,
    cox_univariable,
    dummies,
)
from lenstop.stats.endpoints import (
    aml_incidence,
    by_month,
    endpoint_summary,
    event_free_survival,
    overall_survival,
    retreatment_incidence,
    ti_free_survival,
)
from lenstop.stats.linearity import linearity_test
from lenstop.stats.proportions import exact_ci, fisher_2x2
from lenstop.stats.survival import KMSummary, km_summary, logrank, reverse_km_median
from lenstop.stats.zph import ph_test, term_groups

__all__ = [
    "MIN_EVENTS_PER_TERM",
    "CIFSummary",
    "CoxResult",
    "FineGrayResult",
    "KMSummary",
    "ModelNotEstimable",
    "aml_incidence",
    "by_month",
    "cif_median",
    "cox_fit",
    "cox_univariable",
    "cumulative_incidence",
    "dummies",
    "endpoint_summary",
    "event_free_survival",
    "exact_ci",
    "fine_gray",
    "finegray_expand",
    "fisher_2x2",
    "km_summary",
    "linearity_test",
    "logrank",
    "overall_survival",
    "ph_test",
    "retreatment_incidence",
    "reverse_km_median",
    "term_groups",
    "ti_free_survival",
]
