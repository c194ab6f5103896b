"""The InfluxDB HTTP client (the real side of ``leyden.engine.influx``) against a double."""

from __future__ import annotations

import socket

import pytest
from fake_influxdb import FakeInfluxDB

from leyden.config import InfluxDBConfig
from leyden.engine.influx import InfluxDBError, Series
from leyden.influxdb import HTTPCluster, InfluxDBService


def dead_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def cluster(*urls: str, **options: object) -> HTTPCluster:
    return HTTPCluster(InfluxDBConfig.from_options({"urls": list(urls), **options}, where="t"))


async def test_query_answers_series_with_ns_times(fake_influxdb: FakeInfluxDB) -> None:
    fake_influxdb.databases = {"telegraf": ["autogen"]}
    db = cluster(fake_influxdb.url)
    assert await db.query("SHOW DATABASES") == [
        Series(name="databases", columns=("name",), values=[["telegraf"]])
    ]
    await db.query("SHOW DATABASES", database="telegraf", retention_policy="autogen")
    sent = fake_influxdb.requests[-1]
    assert (sent["method"], sent["query"]) == (
        "GET",
        {"q": "SHOW DATABASES", "epoch": "ns", "db": "telegraf", "rp": "autogen"},
    )
    with pytest.raises(InfluxDBError, match="unsupported query"):
        await db.query("SELECT 1")  # a statement's error is an error
    await db.close()


async def test_write_is_gzipped_with_kapacitors_parameters(fake_influxdb: FakeInfluxDB) -> None:
    db = cluster(fake_influxdb.url, token="tok-123")
    body = b"cpu,host=a value=1 10\n"
    await db.write(
        body, database="chronograf", retention_policy="autogen", precision="s", consistency="all"
    )
    (sent,) = fake_influxdb.requests
    assert sent["query"] == {
        "db": "chronograf",
        "rp": "autogen",
        "precision": "s",
        "consistency": "all",
    }
    assert sent["headers"]["Content-Encoding"] == "gzip"
    assert sent["body"] == body  # as the server read it, once un-gzipped
    assert sent["headers"]["Authorization"] == "Token tok-123"
    await db.close()

    plain = cluster(fake_influxdb.url, compression="none")
    await plain.write(body, database="x")
    assert fake_influxdb.requests[-1]["body"] == body
    assert fake_influxdb.requests[-1]["query"] == {"db": "x"}
    await plain.close()


async def test_write_errors_say_whether_to_retry(fake_influxdb: FakeInfluxDB) -> None:
    db = cluster(fake_influxdb.url)
    fake_influxdb.status = 400
    with pytest.raises(InfluxDBError, match="HTTP 400: write refused") as bad:
        await db.write(b"x", database="d")
    assert not bad.value.retryable
    fake_influxdb.status = 503
    with pytest.raises(InfluxDBError) as busy:
        await db.write(b"x", database="d")
    assert busy.value.retryable
    await db.close()


async def test_a_dead_url_moves_to_the_next(fake_influxdb: FakeInfluxDB) -> None:
    dead = dead_url()
    db = cluster(f"http://user:pw-secret@{dead.removeprefix('http://')}", fake_influxdb.url)
    await db.query("SHOW DATABASES")  # answered by the second URL
    await db.query("SHOW DATABASES")  # which is now the first one tried
    assert len(fake_influxdb.requests) == 2
    await db.close()
    only_dead = cluster(f"http://user:pw-secret@{dead.removeprefix('http://')}")
    with pytest.raises(InfluxDBError) as caught:
        await only_dead.ping()
    assert caught.value.retryable
    assert "cannot connect" in str(caught.value)
    assert "pw-secret" not in str(caught.value) and "pw-secret" not in repr(only_dead)
    await only_dead.close()


async def test_the_service_finds_clusters_by_name_and_default(
    fake_influxdb: FakeInfluxDB,
) -> None:
    configs = [
        InfluxDBConfig.from_options({"name": "a", "urls": [fake_influxdb.url]}, where="t"),
        InfluxDBConfig.from_options(
            {"name": "b", "default": True, "urls": [fake_influxdb.url]}, where="t"
        ),
        InfluxDBConfig.from_options({"name": "off", "enabled": False}, where="t"),
    ]
    service = InfluxDBService(
        configs, server_id=lambda kind: f"{kind}-id", hostname="h", http_port=1, subscribe=False
    )
    assert service.names() == ["a", "b"]
    assert service.get("").name == "b"
    assert service.get("a").name == "a"
    with pytest.raises(KeyError, match=r'unknown InfluxDB cluster "off".*"a", "b"'):
        service.get("off")
    await service.close()
    lone = InfluxDBService(configs[:1], server_id=str, hostname="h", http_port=1, subscribe=False)
    assert lone.get("").name == "a"  # a single cluster is the default
    await lone.close()


async def test_a_task_holds_a_cluster_that_follows_config_updates(
    fake_influxdb: FakeInfluxDB,
) -> None:
    """influxDBOut and batch queries keep what ``get()`` gave them at start; a config API
    update (new URL) must reach them, and a cluster the update disabled must fail clearly."""
    moved = FakeInfluxDB()
    await moved.start()
    try:
        config = InfluxDBConfig.from_options({"name": "a", "urls": [fake_influxdb.url]}, where="t")
        service = InfluxDBService([config], server_id=str, hostname="h", http_port=1)
        held = service.get("")
        await held.write(b"cpu v=1 1\n", database="d")
        service.update([InfluxDBConfig.from_options({"name": "a", "urls": [moved.url]}, where="t")])
        await held.write(b"cpu v=2 2\n", database="d")
        assert [w["body"] for w in fake_influxdb.writes] == ["cpu v=1 1\n"]
        assert [w["body"] for w in moved.writes] == ["cpu v=2 2\n"]
        service.update([InfluxDBConfig.from_options({"name": "a", "enabled": False}, where="t")])
        with pytest.raises(InfluxDBError, match='"a" is no longer enabled'):
            await held.write(b"cpu v=3 3\n", database="d")
        await service.close()
    finally:
        await moved.stop()
