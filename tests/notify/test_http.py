"""What every integration shares: the outbox destination named from a URL, the environment's
proxies."""

from __future__ import annotations

from pathlib import Path

import pytest
from yarl import URL

from leyden.notify._http import EnvProxies, url_destination


def test_url_destination_tells_endpoints_of_one_host_apart_without_their_secrets() -> None:
    one = url_destination("https://hooks.example.com/services/T000/B000/secretONE")
    two = url_destination("https://hooks.example.com/services/T000/B000/secretTWO")
    assert one != two
    assert one == url_destination(" https://hooks.example.com/services/T000/B000/secretONE ")
    for name in (one, two):
        assert name.startswith("https://hooks.example.com/… #")
        assert "secret" not in name and "T000" not in name


def _proxy_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_env_proxies_follow_the_environment_and_its_exceptions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _proxy_env(
        monkeypatch,
        tmp_path,
        HTTPS_PROXY="http://user:secret@proxy.example:3128",
        NO_PROXY="internal.example",
    )
    proxies = EnvProxies()
    proxy, auth = proxies.for_url("https://discord.com/api/webhooks/1/token")
    assert proxy == URL("http://proxy.example:3128")
    assert auth is not None
    assert (auth.login, auth.password) == ("user", "secret")
    assert proxies.for_url("https://internal.example/hook") == (None, None)  # NO_PROXY
    assert proxies.for_url("http://discord.com/api/webhooks/1/token") == (None, None)  # scheme
    assert EnvProxies(enabled=False).for_url("https://discord.com/x") == (None, None)


def test_env_proxies_none_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _proxy_env(monkeypatch, tmp_path)
    assert EnvProxies().for_url("https://discord.com/api/webhooks/1/token") == (None, None)
