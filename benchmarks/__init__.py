"""Speed benchmarks: the full-scale run and the core loop, column-wise vs. per-object Mesa."""
