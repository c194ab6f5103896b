"""Compiling TICKscripts off the event loop, with a time limit (issue 16).

The event loop serves every request, write and alert delivery; a script compiled on it held
all of them for as long as the compile took (a 2 MB script stalled the server for 20 s).  Task
and template definitions therefore build their pipeline -- parse, build, and the Python
compilation of every lambda the engine will run (:func:`precompile`) -- on one worker thread,
and the request waits at most ``[http] compile-timeout`` for it.

A thread cannot be killed: a compile over the limit is answered with a 400 while the thread
runs on to its end.  What bounds that end is :mod:`leyden.limits` (script size, chain length,
expression depth …), checked before the work it bounds, so every script that gets that far
compiles in well under a second; the time limit is the backstop.  There is one worker, so a
stream of expensive definitions queues behind itself (its waiting counts against each
request's limit) instead of taking turns at the GIL with the loop from many threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from leyden.tick import ast as A
from leyden.tick.lambdas import CompileError, compile_lambda
from leyden.tick.pipeline import Pipeline

__all__ = ["DEFAULT_COMPILE_TIMEOUT", "CompileTimeout", "compile_off_loop", "precompile"]

#: seconds a definition may spend compiling (``[http] compile-timeout``)
DEFAULT_COMPILE_TIMEOUT = 10.0

T = TypeVar("T")

_EXECUTOR: ThreadPoolExecutor | None = None


class CompileTimeout(Exception):
    """Compiling took longer than the limit; the text names it."""


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leyden-compile")
    return _EXECUTOR


async def compile_off_loop(
    fn: Callable[..., T], *args: Any, timeout: float = DEFAULT_COMPILE_TIMEOUT
) -> T:
    """``fn(*args)`` on the compile thread; :class:`CompileTimeout` after ``timeout`` seconds
    (the thread finishes the call; its result is dropped)."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_executor(), functools.partial(fn, *args))
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        raise CompileTimeout(
            f"compiling the TICKscript took longer than {timeout:g}s "
            "(the limit, [http] compile-timeout)"
        ) from None


def _lambdas(value: Any) -> Iterator[A.LambdaNode]:
    if isinstance(value, A.LambdaNode):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _lambdas(item)


def precompile(pipeline: Pipeline) -> Pipeline:
    """Compile the lambdas of ``pipeline``'s nodes now, so that starting the task (on the
    event loop) takes them from :func:`compile_lambda`'s cache."""
    for node in pipeline.nodes:
        for value in node.properties.values():
            for lam in _lambdas(value):
                # the node reports what is wrong with it when it starts, as without this step
                with contextlib.suppress(CompileError):
                    compile_lambda(lam)
    return pipeline
