"""Run a coroutine on the fastest event loop available.

uvloop (libuv) roughly halves the per-packet and per-task overhead of asyncio, which is most
of the scanner's CPU once DNS parsing is cheap. It is optional: without it (or with
``HUNTER_UVLOOP=0``) the standard loop runs the same code.

Synchronous callers sometimes sit inside someone else's running loop (a host that calls sync
code from async code, Playwright's sync API in a test process): there the coroutine runs on a
loop of its own in a short-lived thread, instead of failing with "cannot be called from a
running event loop".
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _run_here(coro: Coroutine[Any, Any, T]) -> T:
    if os.environ.get("HUNTER_UVLOOP", "1") != "0":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(coro)
    return asyncio.run(coro)


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_here(coro)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = _run_here(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="hunter-aio")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
