"""What every integration shares: the outbox destination named from a URL."""

from __future__ import annotations

from leyden.notify._http import url_destination


def test_url_destination_tells_endpoints_of_one_host_apart_without_their_secrets() -> None:
    one = url_destination("https://hooks.example.com/services/T000/B000/secretONE")
    two = url_destination("https://hooks.example.com/services/T000/B000/secretTWO")
    assert one != two
    assert one == url_destination(" https://hooks.example.com/services/T000/B000/secretONE ")
    for name in (one, two):
        assert name.startswith("https://hooks.example.com/… #")
        assert "secret" not in name and "T000" not in name
