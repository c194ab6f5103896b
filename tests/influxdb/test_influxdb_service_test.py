"""``POST /kapacitor/v1/service-tests/influxdb``: ping an enabled ``[[influxdb]]`` cluster, with
Kapacitor's texts (its ``services/influxdb`` ``Test``; ``TestServer_DoServiceTest``)."""

from __future__ import annotations

from fake_influxdb import FakeInfluxDB

from leyden.config import InfluxDBConfig
from leyden.influxdb import InfluxDBService


def _service(*options: dict[str, object]) -> InfluxDBService:
    return InfluxDBService(
        [InfluxDBConfig.from_options(o, where="t") for o in options],
        server_id=lambda kind: f"{kind}-id",
        hostname="h",
        http_port=1,
        subscribe=False,
    )


async def test_an_enabled_cluster_answers_the_ping(fake_influxdb: FakeInfluxDB) -> None:
    service = _service({"name": "default", "urls": [fake_influxdb.url]})
    try:
        assert service.default_test_options() == {"cluster": ""}
        assert await service.test({"cluster": "default"}) == (True, "")
        assert [r["path"] for r in fake_influxdb.requests] == ["/ping"]
    finally:
        await service.close()


async def test_a_failing_ping_says_which_cluster(fake_influxdb: FakeInfluxDB) -> None:
    fake_influxdb.status = 500
    service = _service({"name": "default", "urls": [fake_influxdb.url]})
    try:
        ok, message = await service.test({"cluster": "default"})
        assert not ok
        assert message.startswith('failed to ping the influxdb cluster "default": ')
    finally:
        await service.close()


async def test_a_disabled_or_unknown_cluster() -> None:
    service = _service({"name": "default", "enabled": False, "urls": ["http://127.0.0.1:9"]})
    try:
        assert await service.test({"cluster": "default"}) == (
            False,
            'cluster "default" is not enabled or does not exist',
        )
        assert await service.test({}) == (False, 'cluster "" is not enabled or does not exist')
    finally:
        await service.close()
