from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fake_influxdb import FakeInfluxDB


@pytest.fixture
async def fake_influxdb() -> AsyncIterator[FakeInfluxDB]:
    fake = FakeInfluxDB()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
