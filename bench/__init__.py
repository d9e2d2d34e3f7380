"""Benchmarks (run each as a script: ``python bench/NAME.py``); ``bench.harness`` is shared with the reliability tests."""
