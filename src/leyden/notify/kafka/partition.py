"""Kapacitor's Kafka partitioners: which partition a message with a given key goes to.

Kapacitor partitions by the alert ID (the message key) unless ``disablePartitionById``:
``crc32`` (the default, librdkafka's: IEEE CRC-32 of the key modulo the partition count),
``murmur2`` (Java's default partitioner), ``murmur3`` and ``fnv-1a`` (sarama's hash
partitioner: the 32-bit hash as a signed number, modulo the count, made positive).  With
``disablePartitionById`` Kapacitor leaves sarama's default partitioner, which is the same
FNV-1a hash of the key, so messages of one alert still share a partition; Leyden does the same.
An empty key goes to a random partition (crc32, fnv-1a) as in Kapacitor.  The choice indexes
the topic's partitions sorted by ID.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Sequence

from aiokafka.partitioner import murmur2  # type: ignore[import-untyped]

__all__ = ["ALGORITHMS", "partitioner"]

#: ``partitionHashAlgorithm`` values ("" is crc32)
ALGORITHMS = ("crc32", "murmur2", "murmur3", "fnv-1a")

Partitioner = Callable[[bytes | None, Sequence[int], Sequence[int]], int]


def _fnv1a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def _murmur3(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit (spaolacci/murmur3's New32)."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed
    length = len(data)
    rounded = length & ~3
    for i in range(0, rounded, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        k = (k * c2) & 0xFFFFFFFF
        h ^= k
        h = ((h << 13) | (h >> 19)) & 0xFFFFFFFF
        h = (h * 5 + 0xE6546B64) & 0xFFFFFFFF
    k = 0
    tail = length & 3
    if tail == 3:
        k ^= data[rounded + 2] << 16
    if tail >= 2:
        k ^= data[rounded + 1] << 8
    if tail >= 1:
        k ^= data[rounded]
        k = (k * c1) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        k = (k * c2) & 0xFFFFFFFF
        h ^= k
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def _signed_mod(h: int, n: int) -> int:
    """sarama's ``int32(hash) % n`` made positive (Go's % truncates toward zero)."""
    signed = h - (1 << 32) if h >= 1 << 31 else h
    return abs(signed) % n


def choose(algorithm: str, key: bytes | None, count: int) -> int | None:
    """The index among ``count`` partitions for ``key``; None for a random one."""
    if key is None:
        return None
    if algorithm in ("", "crc32"):
        return None if not key else (zlib.crc32(key) % count) & 0x7FFFFFFF
    if algorithm == "murmur2":
        return (murmur2(key) & 0x7FFFFFFF) % count
    if algorithm == "murmur3":
        return _signed_mod(_murmur3(key), count)
    if algorithm == "fnv-1a":
        return _signed_mod(_fnv1a(key), count)
    raise ValueError(f"invalid partition algorithm: {algorithm!r}")


def partitioner(algorithm: str, by_id: bool) -> Partitioner:
    """An aiokafka ``partitioner(key, all_partitions, available)`` doing what Kapacitor does."""
    name = algorithm if by_id else "fnv-1a"
    if name not in ("", *ALGORITHMS):
        raise ValueError(f"invalid partition algorithm: {algorithm!r}")

    def pick(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
        ordered = sorted(all_partitions)
        index = choose(name, key, len(ordered))
        return ordered[index] if index is not None else random.choice(ordered)

    return pick
