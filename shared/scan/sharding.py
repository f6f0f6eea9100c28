"""Stable assignment of domains to worker processes."""

import zlib


def shard_of(key: str, workers: int) -> int:
    """Which of ``workers`` owns ``key``; stable across processes and runs (``hash()`` is salted)."""
    return zlib.crc32(key.encode("utf-8")) % workers
