"""Benchmarks and evaluation CLIs that print figures: `python -m bench.NAME` (README, "What is where"), and ROOT,
the repository's root, which they and the tests run commands in and read files from."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
