"""FlexiSpace benchmarks: `python -m benchmarks NAME [--quick]`, every figure against a baseline.

One module per benchmark (intake, allocation, contention, boundary, growth); `harness` starts
the Procfile's processes against a database, a Redis namespace and a topic root of the run's own.
"""
