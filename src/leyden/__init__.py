"""Leyden: a Kapacitor-compatible stream-processing and alerting engine, Discord first."""

__version__ = "0.1.0"

#: What Leyden reports in X-Kapacitor-Version: Kapacitor's API version it speaks, then ours.
KAPACITOR_VERSION = f"1.7.0-leyden{__version__}"

#: Kapacitor's API base path (``httpd.BasePath``), which the server routes and the client calls:
#: kept here, in the package's leaf, so the CLI's client needs nothing of the server to know it.
API_BASE = "/kapacitor/v1"
