"""The quality benchmark: how well each policy optimizes, side by side with its peers.

``python -m bench.quality`` runs it; ``bench.quality.harness.run`` and
``bench.quality.report.write_report`` are the pieces other benches reuse.
"""
