"""Beside the flow · Orchestration: the build's steps, folders, notebook runs, up-to-date records
and publishing. Kept light: the Snakefile imports it."""
