"""Speed and memory measurements against a baseline: `python -m benchmarks.<name>`."""
