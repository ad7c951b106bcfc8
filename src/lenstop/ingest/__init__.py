"""1 · Data in: the data dictionary, extract readers, crosswalks, validation, the quality report
and the synthetic cohort."""
