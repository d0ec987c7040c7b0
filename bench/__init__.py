"""Benchmarks and evaluation CLIs that print figures: `python -m bench.NAME` (README, "What is where")."""
