"""Speed, memory and accuracy measurements (scripts: `python benchmarks/NAME.py` or `python -m benchmarks.NAME`)."""
