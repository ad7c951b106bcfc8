"""2 · Derive: from the validated cohort to the analysis table that every notebook opens."""
