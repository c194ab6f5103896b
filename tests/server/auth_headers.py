"""The ``Authorization`` header of HTTP basic auth, for the server tests that log in."""

from __future__ import annotations

import base64


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
