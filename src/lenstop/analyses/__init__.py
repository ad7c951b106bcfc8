"""4 · The study's analyses beyond one notebook's cells: secondary outcomes, the sensitivity grid
and the simulation study, each built on `lenstop.stats`."""
