"""Benchmarks (`make bench`): speed and memory measured in one run, ratios printed."""
