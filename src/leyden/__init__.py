"""Leyden: a Kapacitor-compatible stream-processing and alerting engine, Discord first."""

__version__ = "0.1.0"

#: What Leyden reports in X-Kapacitor-Version: Kapacitor's API version it speaks, then ours.
KAPACITOR_VERSION = f"1.7.0-leyden{__version__}"
