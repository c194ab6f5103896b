"""The check every service URL key of a section shares (``url`` of ``[telegram]``, ``[pushover]``…).

Kapacitor's ``Validate`` runs Go's ``url.Parse``, which accepts nearly anything, and the first
event then fails.  Leyden refuses at load what can never be posted to: a URL without an
``http``/``https`` scheme or a host.  The message never repeats the value (a URL may hold a
token).
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["http_url_problem"]


def http_url_problem(key: str, url: str) -> str | None:
    """Why ``url`` (the value of ``key``) is not an http(s) URL with a host, or None."""
    try:
        split = urlsplit(url.strip())
        host = split.hostname
        split.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        host = None
        split = None
    if split is None or split.scheme not in ("http", "https") or not host:
        return f"{key}: must be an http:// or https:// URL with a host"
    return None
