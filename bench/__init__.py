"""Tunehub's benchmark suite: numbers measured here, never asserted by timed tests.

Run a benchmark from the repository root, e.g. ``python -m bench.throughput``;
results go to ``bench/results/`` (git-ignored).
"""
