"""Run a coroutine on the fastest event loop available.

uvloop (libuv) roughly halves the per-packet and per-task overhead of asyncio, which is most
of the scanner's CPU once DNS parsing is cheap. It is optional: without it (or with
``HUNTER_UVLOOP=0``) the standard loop runs the same code.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    if os.environ.get("HUNTER_UVLOOP", "1") != "0":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(coro)
    return asyncio.run(coro)
