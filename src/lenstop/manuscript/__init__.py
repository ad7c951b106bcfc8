"""6 · Manuscript: the results file, the variables the prose quotes, and the fallback renderer."""
