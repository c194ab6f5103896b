"""The engine's port to InfluxDB 1.x clusters: what ``batch|query()``, ``influxDBOut()`` and
``.create()`` need of an ``[[influxdb]]`` cluster, and an in-memory twin for tests and replay.

Kapacitor's nodes reach InfluxDB through an interface the task master injects
(``kapacitor.TaskMaster.InfluxDBService``: ``NewNamedClient(cluster)`` for queries and
writes); the engine here likewise imports no HTTP client.  The real clusters (``[[influxdb]]``
sections, their URLs, credentials and TLS) live in :mod:`leyden.influxdb`, built by the
composition root.

A cluster name of ``""`` means the default cluster (the one with ``default = true``, or the
only one), as ``.cluster('')`` does in Kapacitor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "NO_INFLUXDB",
    "InfluxDBCluster",
    "InfluxDBClusters",
    "InfluxDBError",
    "MemoryCluster",
    "MemoryInfluxDB",
    "Series",
    "WriteRecord",
]


class InfluxDBError(Exception):
    """A query or write InfluxDB refused or that did not reach it.

    The message names the cluster and what went wrong, never a password or a token.
    ``retryable``: a connection error, timeout or 5xx (a write may be tried again); False for
    a 4xx (a bad query, a missing database: trying again gives the same answer).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a query's answer, as InfluxDB's JSON has it (``epoch=ns``: the ``time``
    column holds integer nanoseconds)."""

    name: str
    tags: dict[str, str] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    values: list[list[Any]] = field(default_factory=list)


class InfluxDBCluster(Protocol):
    """One ``[[influxdb]]`` cluster."""

    @property
    def name(self) -> str: ...

    async def query(
        self,
        command: str,
        *,
        database: str = "",
        retention_policy: str = "",
        post: bool = False,
    ) -> list[Series]:
        """Run InfluxQL; ``post``: a statement that changes something (``CREATE …``),
        sent with POST as InfluxDB requires.  Every statement's series, in order; raises
        :class:`InfluxDBError` for an error answer (of any statement) or a failed request."""
        ...

    async def write(
        self,
        body: bytes,
        *,
        database: str,
        retention_policy: str = "",
        precision: str = "ns",
        consistency: str = "",
    ) -> None:
        """Write line protocol; raises :class:`InfluxDBError`."""
        ...


class InfluxDBClusters(Protocol):
    """The configured clusters by name."""

    def get(self, name: str) -> InfluxDBCluster:
        """The cluster called ``name`` (``""``: the default one).

        Raises ``KeyError`` whose message names the clusters that are configured."""
        ...

    def names(self) -> list[str]: ...


class _NoInfluxDB:
    """No ``[[influxdb]]`` section is enabled."""

    def get(self, name: str) -> InfluxDBCluster:
        what = f'cluster "{name}"' if name else "a default cluster"
        raise KeyError(f"no [[influxdb]] cluster is configured (wanted {what})")

    def names(self) -> list[str]:
        return []


NO_INFLUXDB: InfluxDBClusters = _NoInfluxDB()


@dataclass(frozen=True, slots=True)
class WriteRecord:
    """One write a :class:`MemoryCluster` received."""

    database: str
    retention_policy: str
    precision: str
    consistency: str
    body: bytes


class MemoryCluster:
    """An in-memory cluster: records writes and statements; answers queries with ``answer``
    (a function of the InfluxQL text), or no series."""

    def __init__(
        self,
        name: str = "default",
        *,
        answer: Callable[[str], list[Series]] | None = None,
    ) -> None:
        self._name = name
        self.answer = answer
        self.writes: list[WriteRecord] = []
        self.queries: list[tuple[str, str, str, bool]] = []
        #: set to an exception to make every request fail with it
        self.fail: InfluxDBError | None = None

    @property
    def name(self) -> str:
        return self._name

    async def query(
        self,
        command: str,
        *,
        database: str = "",
        retention_policy: str = "",
        post: bool = False,
    ) -> list[Series]:
        self.queries.append((command, database, retention_policy, post))
        if self.fail is not None:
            raise self.fail
        return self.answer(command) if self.answer is not None else []

    async def write(
        self,
        body: bytes,
        *,
        database: str,
        retention_policy: str = "",
        precision: str = "ns",
        consistency: str = "",
    ) -> None:
        if self.fail is not None:
            raise self.fail
        self.writes.append(WriteRecord(database, retention_policy, precision, consistency, body))


class MemoryInfluxDB:
    """In-memory clusters by name; the first one is the default."""

    def __init__(self, clusters: Sequence[MemoryCluster] = ()) -> None:
        self.clusters = {c.name: c for c in clusters} or {"default": MemoryCluster("default")}

    def get(self, name: str) -> MemoryCluster:
        if not name:
            return next(iter(self.clusters.values()))
        try:
            return self.clusters[name]
        except KeyError:
            known = ", ".join(f'"{n}"' for n in self.clusters)
            raise KeyError(f'unknown InfluxDB cluster "{name}" (configured: {known})') from None

    def names(self) -> list[str]:
        return list(self.clusters)
