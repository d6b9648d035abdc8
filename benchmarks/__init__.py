"""Benchmarks: codeweaver against the chunkers people use today.

Run ``python -m benchmarks run --help``; the results page is ``benchmarks/RESULTS.md``.
"""
