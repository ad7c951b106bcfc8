"""Statistics for the study: documented wrappers over lifelines, statsmodels and scipy.

Cox and Fine-Gray models are fitted by a vectorised Efron engine (`_efron`) that scales to
registry-sized cohorts; the tests check it against R, statsmodels and lifelines.

Every function takes a DataFrame plus explicit column names and returns JSON-friendly
results (`to_dict()` on the result objects) so notebooks can write them to results.json.
"""

from lenstop.stats.competing import (
    CIFSummary,
    FineGrayResult,
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
    ph_test,
)
from lenstop.stats.proportions import exact_ci, fisher_2x2
from lenstop.stats.survival import KMSummary, km_summary, logrank, reverse_km_median

__all__ = [
    "MIN_EVENTS_PER_TERM",
    "CIFSummary",
    "CoxResult",
    "FineGrayResult",
    "KMSummary",
    "ModelNotEstimable",
    "cox_fit",
    "cox_univariable",
    "cumulative_incidence",
    "dummies",
    "exact_ci",
    "fine_gray",
    "finegray_expand",
    "fisher_2x2",
    "km_summary",
    "logrank",
    "ph_test",
    "reverse_km_median",
]
