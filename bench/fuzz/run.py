"""The byte-level campaign: chunks of mutated inputs per target, spread over worker processes.

A chunk is (target, rng seed, count, deadline): a worker builds the target once, generates
``count`` inputs with :class:`~bench.fuzz.mutate.Mutator` and runs each under a per-input
alarm (``signal.setitimer``; the parsers are pure Python, so a hang is interruptible).  An
exception outside the target's documented errors, a RecursionError or an alarm is a crash: its
signature is the exception type and the innermost frame in Leyden's source, and the input goes
to ``<findings>/<target>/<signature hash>-<n>.bin`` (at most :data:`KEEP_PER_SIGNATURE` per
signature, with a ``.txt`` beside it holding the traceback).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bench.fuzz import targets
from bench.fuzz.mutate import Mutator

KEEP_PER_SIGNATURE = 20


class Hang(BaseException):
    """Raised by the per-input alarm (a BaseException so parsers' ``except Exception`` cannot
    swallow it)."""


@dataclass
class Tally:
    inputs: int = 0
    seconds: float = 0.0
    crashes: int = 0
    #: signature → (count, a preview of the first input)
    signatures: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.inputs += other.inputs
        self.seconds += other.seconds
        self.crashes += other.crashes
        for sig, (n, preview) in other.signatures.items():
            old = self.signatures.get(sig)
            self.signatures[sig] = (n + (old[0] if old else 0), old[1] if old else preview)


KNOWN_FILE = Path(__file__).with_name("known.txt")


def known_signatures(path: Path = KNOWN_FILE) -> set[str]:
    """Crash classes found, reported and owned elsewhere: ``Type at file`` (no line number)."""
    if not path.is_file():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def is_known(sig: str, known: set[str]) -> bool:
    return sig.rsplit(":", 1)[0] in known


def signature(exc: BaseException) -> str:
    """``Type at file:line``: the innermost frame under ``src/leyden`` (else the innermost)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/leyden/" in f.filename and "/bench/" not in f.filename]
    chosen = ours or frames
    place = f"{chosen[-1].filename.split('/src/')[-1]}:{chosen[-1].lineno}" if chosen else "?"
    return f"{type(exc).__name__} at {place}"


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang("input took longer than the per-input limit")


def run_chunk(
    name: str, seed: int, count: int, deadline: float, limit: float, findings: str
) -> Tally:
    """Fuzz ``name`` with ``count`` inputs (stopping at the wall-clock ``deadline``)."""
    target = targets.load(name)
    mutate = Mutator(target.seeds, target.tokens, random.Random(seed), target.max_len)
    allowed = target.allowed
    tally = Tally()
    kept: dict[str, int] = {}
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(1000)  # CPython's default, whatever a caller set
    start = time.monotonic()
    for i in range(count):
        if i % 256 == 0 and time.time() > deadline:
            break
        data = mutate()
        try:
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                target.run(data)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except allowed:
            pass
        except (Exception, Hang) as exc:
            tally.crashes += 1
            sig = signature(exc)
            n, preview = tally.signatures.get(sig, (0, targets.describe(data)))
            tally.signatures[sig] = (n + 1, preview)
            kept[sig] = kept.get(sig, 0) + 1
            if kept[sig] <= KEEP_PER_SIGNATURE:
                _save(Path(findings) / name, sig, seed, kept[sig], data, exc)
        tally.inputs += 1
    tally.seconds = time.monotonic() - start
    return tally


def _save(folder: Path, sig: str, seed: int, n: int, data: bytes, exc: BaseException) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{hashlib.sha256(sig.encode()).hexdigest()[:10]}-{seed}-{n}"
    (folder / f"{stem}.bin").write_bytes(data)
    trace = "".join(traceback.format_exception(exc)[-12:])
    (folder / f"{stem}.txt").write_text(f"{sig}\n\n{trace}")


def _chunk(args: tuple[str, int, int, float, float, str]) -> tuple[str, Tally]:
    return args[0], run_chunk(*args)


def campaign(
    names: list[str],
    inputs: int,
    seconds: float,
    *,
    workers: int,
    limit: float,
    findings: Path,
    chunk: int = 20000,
) -> dict[str, tuple[Tally, float]]:
    """Fuzz each target with ``inputs`` inputs, all within ``seconds`` of wall clock.  A target
    gets the time left divided by the targets left, so the time a fast parser does not need
    goes to the slower ones after it.  Returns name → (tally, wall seconds)."""
    results: dict[str, tuple[Tally, float]] = {}
    end = time.time() + seconds
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, maxtasksperchild=20) as pool:
        for index, name in enumerate(names):
            wall = time.monotonic()
            deadline = time.time() + (end - time.time()) / (len(names) - index)
            per = min(chunk, max(1, inputs // workers))
            jobs = [
                (
                    name,
                    index * 1_000_003 + k,
                    min(per, inputs - k * per),
                    deadline,
                    limit,
                    str(findings),
                )
                for k in range((inputs + per - 1) // per)
            ]
            tally = Tally()
            for _, part in pool.imap_unordered(_chunk, jobs):
                tally.add(part)
            results[name] = (tally, time.monotonic() - wall)
            print_line(name, tally, results[name][1])
    return results


def print_line(name: str, tally: Tally, wall: float) -> None:
    rate = tally.inputs / wall if wall else 0.0
    print(
        f"{name:<14}{tally.inputs:>10,} inputs {wall:>8.1f}s ({rate:,.0f}/s) "
        f"{tally.crashes:>6} crashes {len(tally.signatures):>3} signatures",
        flush=True,
    )
    known = known_signatures()
    for sig, (n, preview) in sorted(tally.signatures.items()):
        mark = "known" if is_known(sig, known) else "NEW  "
        print(f"    {mark} {n:>6} × {sig}   e.g. {preview}", flush=True)
