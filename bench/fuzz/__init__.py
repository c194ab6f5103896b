"""Fuzzing of every parser and of the HTTP API (``make fuzz``; see :mod:`bench.fuzz.__main__`).

Issue 16's "fuzzing as a habit": hypothesis properties, a byte-level mutation campaign over
the shared corpora and test fixtures, atheris when installed, and hostile requests to a live
server.  Crashing inputs become regression tests under ``tests/`` (mirroring the package).
"""
