"""Benchmarks that print figures (run e.g. `python -m bench.dispatch`)."""
