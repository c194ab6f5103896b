"""A byte-level mutator on ``random``: seeds in, hostile variants out.

Each input is a corpus seed (sometimes two spliced together) put through one to six edits:
bit flips, random bytes, deletions, a grammar token inserted, a slice duplicated (up to a
thousand times, which is how deep nesting and long chains appear), a digit run replaced by a
huge number, interesting values (``NaN``, ``-0``, ``9223372036854775808``) and truncation.
Deterministic for a given ``random.Random`` seed, so a worker's chunk can be replayed.
"""

from __future__ import annotations

import random
import re

MAX_LEN = 65536

_INTERESTING = [
    b"0",
    b"-0",
    b"-1",
    b"1e308",
    b"1e-400",
    b"NaN",
    b"Inf",
    b"-inf",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"0x7f",
    b"1_0",
    b"\x00",
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf0\x9f\x98\x80",
    b"\u2028".decode("unicode_escape").encode(),
    b"%s%d%n",
    b"\\",
    b"\\u0000",
    b"''",
    b'""',
    b"\r\n",
    b"\t",
    b" " * 64,
]
_DIGITS = re.compile(rb"\d+")


class Mutator:
    """Variants of ``seeds``; ``tokens`` are the grammar's words and delimiters."""

    def __init__(
        self, seeds: list[bytes], tokens: list[bytes], rng: random.Random, max_len: int = MAX_LEN
    ) -> None:
        self.max_len = max_len
        self.seeds = seeds or [b""]
        self.tokens = tokens or [b" "]
        self.rng = rng

    def __call__(self) -> bytes:
        rng = self.rng
        data = bytearray(rng.choice(self.seeds))
        if rng.random() < 0.1:
            other = rng.choice(self.seeds)
            data = data[: rng.randint(0, len(data))] + other[rng.randint(0, len(other)) :]
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4, 6))):
            data = self._edit(data)
            if len(data) > self.max_len:
                del data[self.max_len :]
        return bytes(data)

    def _edit(self, data: bytearray) -> bytearray:
        rng = self.rng
        n = len(data)
        pos = rng.randint(0, n)
        op = rng.randrange(11)
        if op == 0 and n:  # flip a bit
            i = rng.randrange(n)
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # random bytes
            data[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == 2 and n:  # delete a range
            data[pos : pos + rng.randint(1, 16)] = b""
        elif op in (3, 4):  # a grammar token
            data[pos:pos] = rng.choice(self.tokens)
        elif op == 5 and n:  # duplicate a slice, sometimes many times (nesting, long chains)
            start = rng.randrange(n)
            chunk = bytes(data[start : start + rng.randint(1, 24)])
            times = rng.choice((2, 3, 10, 100, 1000)) if rng.random() < 0.3 else 2
            data[pos:pos] = chunk * times
        elif op == 6:  # an interesting value
            data[pos:pos] = rng.choice(_INTERESTING)
        elif op == 7:  # a digit run becomes another number, now and then a huge one
            runs = list(_DIGITS.finditer(data))
            if runs:
                m = rng.choice(runs)
                size = rng.choice((1, 5, 19, 20, 40, 400)) if rng.random() < 0.97 else 5000
                digits = "".join(rng.choices("0123456789", k=size)).encode()
                data[m.start() : m.end()] = digits
        elif op == 8 and n:  # truncate
            del data[pos:]
        elif op == 9 and n:  # swap two bytes
            i, j = rng.randrange(n), rng.randrange(n)
            data[i], data[j] = data[j], data[i]
        elif op == 10:  # a splice of another seed
            other = rng.choice(self.seeds)
            if other:
                a = rng.randrange(len(other))
                data[pos:pos] = other[a : a + rng.randint(1, 64)]
        return data
