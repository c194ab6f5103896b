"""Automatic subscriptions (Kapacitor's ``linkSubscriptions``) against an InfluxDB double."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from fake_influxdb import FakeInfluxDB

from leyden.config import InfluxDBConfig
from leyden.engine.influx import InfluxDBError
from leyden.influxdb import HTTPCluster, InfluxDBService, SubscriptionLinker
from leyden.influxdb.subscriptions import destination

DEST = "http://leyden.example:9092"
NAME = "kapacitor-0f5e"


def linker(fake: FakeInfluxDB, **options: object) -> SubscriptionLinker:
    config = InfluxDBConfig.from_options({"urls": [fake.url], **options}, where="test")
    return SubscriptionLinker(HTTPCluster(config), config, name=NAME, destination=DEST)


async def test_every_database_and_policy_but_the_excluded_is_subscribed(
    fake_influxdb: FakeInfluxDB,
) -> None:
    fake_influxdb.databases = {
        "telegraf": ["autogen", "longterm"],
        "_kapacitor": ["autogen"],
        "empty": [],
    }
    link = linker(fake_influxdb)
    result = await link.sync()
    assert sorted(result.created) == [("telegraf", "autogen"), ("telegraf", "longterm")]
    assert fake_influxdb.subscriptions == {
        ("telegraf", "autogen", NAME): ("ANY", [DEST]),
        ("telegraf", "longterm", NAME): ("ANY", [DEST]),
    }
    creates = [r for r in fake_influxdb.requests if r["method"] == "POST"]
    assert len(creates) == 2  # statements that change something are POSTed
    # a second pass changes nothing
    again = await link.sync()
    assert (again.created, again.dropped, again.linked) == ([], [], 2)
    await link.cluster.close()  # type: ignore[attr-defined]


async def test_allow_list_exclusions_and_stale_subscriptions(fake_influxdb: FakeInfluxDB) -> None:
    fake_influxdb.databases = {"telegraf": ["autogen", "longterm"], "app": ["autogen"]}
    fake_influxdb.subscriptions = {
        # ours, but pointing at an old address: dropped and made again
        ("telegraf", "autogen", NAME): ("ANY", ["http://old-host:9092"]),
        # ours, but now excluded: dropped
        ("app", "autogen", NAME): ("ANY", [DEST]),
        # someone else's: never touched
        ("app", "autogen", "chronograf"): ("ALL", ["http://elsewhere:1"]),
    }
    link = linker(
        fake_influxdb,
        subscriptions={"telegraf": ["autogen"], "app": ["autogen"]},
        **{"excluded-subscriptions": {"app": ["autogen"]}},
    )
    result = await link.sync()
    assert sorted(result.dropped) == [("app", "autogen"), ("telegraf", "autogen")]
    assert result.created == [("telegraf", "autogen")]
    assert fake_influxdb.subscriptions == {
        ("telegraf", "autogen", NAME): ("ANY", [DEST]),
        ("app", "autogen", "chronograf"): ("ALL", ["http://elsewhere:1"]),
    }
    await link.cluster.close()  # type: ignore[attr-defined]


async def test_a_refusal_names_the_cluster_and_never_the_password(
    fake_influxdb: FakeInfluxDB,
) -> None:
    fake_influxdb.status = 401
    link = linker(fake_influxdb, username="kap", password="hunter2-secret")
    with pytest.raises(InfluxDBError) as caught:
        await link.sync()
    text = str(caught.value)
    assert "'default'" in text and "HTTP 401" in text and "check username/password" in text
    assert "hunter2" not in text
    assert not caught.value.retryable
    auth = fake_influxdb.requests[0]["headers"]["Authorization"]
    assert auth.startswith("Basic ")
    await link.cluster.close()  # type: ignore[attr-defined]


async def test_run_retries_a_down_cluster_and_logs_each_change_once(
    fake_influxdb: FakeInfluxDB, caplog: pytest.LogCaptureFixture
) -> None:
    """InfluxDB refuses three times, then answers: one error line, one "linked" line, and
    the pauses grow from 1 s while within startup-timeout."""
    fake_influxdb.databases = {"telegraf": ["autogen"]}
    fake_influxdb.status = 500
    pauses: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds
        if len(pauses) == 3:
            fake_influxdb.status = 0  # InfluxDB comes up
        if len(pauses) == 5:
            raise _Stop

    config = InfluxDBConfig.from_options(
        {"urls": [fake_influxdb.url], "subscriptions-sync-interval": "10s"}, where="test"
    )
    link = SubscriptionLinker(
        HTTPCluster(config),
        config,
        name=NAME,
        destination=DEST,
        sleep=sleep,
        monotonic=lambda: now[0],
    )
    caplog.set_level(logging.INFO, logger="leyden.influxdb")
    with pytest.raises(_Stop):
        await link.run()
    assert pauses == [1.0, 2.0, 4.0, 10.0, 10.0]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable or refusing" in m for m in messages) == 1
    assert sum(m == "InfluxDB subscriptions linked" for m in messages) == 1
    assert link.state == "linked"
    assert ("telegraf", "autogen", NAME) in fake_influxdb.subscriptions
    await link.cluster.close()  # type: ignore[attr-defined]


async def test_after_startup_timeout_it_retries_at_the_sync_interval(
    fake_influxdb: FakeInfluxDB,
) -> None:
    fake_influxdb.status = 503
    pauses: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds
        if len(pauses) == 6:
            raise _Stop

    config = InfluxDBConfig.from_options(
        {
            "urls": [fake_influxdb.url],
            "subscriptions-sync-interval": "30s",
            "startup-timeout": "5s",
        },
        where="test",
    )
    link = SubscriptionLinker(
        HTTPCluster(config),
        config,
        name=NAME,
        destination=DEST,
        sleep=sleep,
        monotonic=lambda: now[0],
    )
    with pytest.raises(_Stop):
        await link.run()
    assert pauses == [1.0, 2.0, 4.0, 30.0, 30.0, 30.0]
    await link.cluster.close()  # type: ignore[attr-defined]


def test_destination_is_kapacitors_url() -> None:
    config = InfluxDBConfig()
    assert destination(config, hostname="kap1", http_port=9092) == "http://kap1:9092"
    config = InfluxDBConfig.from_options(
        {
            "kapacitor-hostname": "10.0.0.5",
            "http-port": 19092,
            "subscription-protocol": "https",
            "subscription-path": "/leyden",
        },
        where="test",
    )
    assert destination(config, hostname="kap1", http_port=9092) == "https://10.0.0.5:19092/leyden"
    v6 = InfluxDBConfig.from_options({"kapacitor-hostname": "::1"}, where="test")
    assert destination(v6, hostname="x", http_port=1) == "http://[::1]:1"


class _Stop(Exception):
    pass


async def _until(check: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    "change",
    [
        {"disable-subscriptions": True},
        {"enabled": False},
        {"subscription-mode": "server"},  # a new name: the old one's go
    ],
    ids=["disable-subscriptions", "disabled", "new-name"],
)
async def test_an_update_that_unsubscribes_a_cluster_drops_its_subscriptions(
    fake_influxdb: FakeInfluxDB, change: dict[str, object]
) -> None:
    """Kapacitor's Update: the config API turning a cluster's subscriptions off (or renaming
    them) drops the ones it made; other subscriptions are never touched."""
    fake_influxdb.databases = {"telegraf": ["autogen"]}
    fake_influxdb.subscriptions = {("telegraf", "autogen", "chronograf"): ("ALL", ["http://x:1"])}
    options: dict[str, object] = {"name": "main", "urls": [fake_influxdb.url]}
    service = InfluxDBService(
        [InfluxDBConfig.from_options(options, where="t")],
        server_id=lambda kind: f"{kind}-id",
        hostname="h",
        http_port=1,
    )
    service.start()
    try:
        ours = ("telegraf", "autogen", "kapacitor-cluster-id")
        await _until(lambda: ours in fake_influxdb.subscriptions, "the subscription")
        service.update([InfluxDBConfig.from_options({**options, **change}, where="t")])
        await _until(lambda: ours not in fake_influxdb.subscriptions, "it to be dropped")
        kept = set(fake_influxdb.subscriptions) - {("telegraf", "autogen", "kapacitor-server-id")}
        assert kept == {("telegraf", "autogen", "chronograf")}
    finally:
        await service.close()
