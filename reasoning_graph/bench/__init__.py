"""Benchmarks: data sets, the bench runner, its report and plots, and record / replay."""
