"""6 · Manuscript: the results file, the variables the prose quotes (assembled from sentences,
front matter, the paper's figures and provenance), and the fallback renderer."""
