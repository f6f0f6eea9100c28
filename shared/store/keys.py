"""API keys: created once, stored as an Argon2 hash, checked on every non-health request.

A key reads ``hunter_<id>_<secret>``. The id finds the row without hashing, so an unknown
key costs nothing; the secret is verified with Argon2 (deliberately slow, ~50 ms). A verified
key is remembered in memory (an LRU of valid keys only) under the SHA-256 of the presented key, so
the hash is paid once per key and process; its row is re-read every two seconds, so a revoked key
stops working everywhere within two seconds. Wrong keys are throttled by the HTTP layer
(:class:`shared.redis.limits.FailedAuthLimiter`), not cached.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Engine, select

from shared.store.db import session_factory
from shared.store.models import ApiKeyRow, utcnow

SCOPES = ("read", "scan", "admin")
_IMPLIES = {"admin": {"read", "scan", "admin"}, "scan": {"read", "scan"}, "read": {"read"}}
CACHE_SECONDS = 3600.0  # how long a verified key skips argon2 (the slow part, by design)
REVOCATION_CHECK_SECONDS = 2.0  # how long a process may go on trusting a key without re-reading its row
CACHE_SIZE = 10_000  # verified keys remembered per process (least recently used evicted)


def _digest(presented: str) -> str:
    return hashlib.sha256(presented.encode("utf-8", "replace")).hexdigest()


def key_id_of(presented: str) -> str | None:
    """The public id inside a ``hunter_<id>_<secret>`` key (None for anything else)."""
    parts = presented.split("_", 2)
    if len(parts) == 3 and parts[0] == "hunter" and 1 <= len(parts[1]) <= 16 and parts[1].isalnum():
        return parts[1]
    return None


class ApiKeyError(ValueError):
    pass


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: frozenset[str]  # expanded: admin includes scan and read
    rate_limit_per_minute: int

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def parse_scopes(text: str) -> list[str]:
    scopes = [s.strip().lower() for s in text.split(",") if s.strip()]
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ApiKeyError(f"scopes must be a comma list of {', '.join(SCOPES)}; got {text!r}")
    return scopes


class ApiKeyStore:
    def __init__(self, engine: Engine) -> None:
        from argon2 import PasswordHasher

        self.sessions = session_factory(engine)
        self.hasher = PasswordHasher()
        self._cache: OrderedDict[str, tuple[float, ApiKey, float]] = OrderedDict()  # digest: (until, key, checked)
        self._lock = threading.Lock()

    def create(self, name: str, scopes: list[str], rate_limit_per_minute: int = 600) -> tuple[str, ApiKeyRow]:
        """Store a new key; return the plaintext key (shown once) and its row."""
        if not name.strip():
            raise ApiKeyError("a key needs a name")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=key_id,
            name=name.strip(),
            secret_hash=self.hasher.hash(secret),
            scopes=",".join(scopes),
            rate_limit_per_minute=rate_limit_per_minute,
            created_at=utcnow(),
        )
        with self.sessions.begin() as session:
            if session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.name == row.name)):
                raise ApiKeyError(f"a key named {row.name!r} already exists")
            session.add(row)
        return f"hunter_{key_id}_{secret}", row

    def list(self) -> list[ApiKeyRow]:
        with self.sessions() as session:
            return list(session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)))

    def revoke(self, name_or_id: str, *, by_id: bool = False) -> ApiKeyRow:
        """Revoke by name or id (the CLI takes either); ``by_id`` matches the id only (the HTTP API)."""
        match = ApiKeyRow.id == name_or_id
        if not by_id:
            match = match | (ApiKeyRow.name == name_or_id)
        with self.sessions.begin() as session:
            row = session.scalar(select(ApiKeyRow).where(match))
            if row is None:
                raise ApiKeyError(f"no key {'with the id' if by_id else 'named'} {name_or_id!r}")
            row.revoked_at = row.revoked_at or utcnow()
        with self._lock:
            self._cache.clear()
        return row

    def authenticate(self, presented: str) -> ApiKey | None:
        """The key behind ``presented``, or None: :meth:`cached`, else the Argon2 check."""
        key = self.cached(presented)
        return key if key is not None else self.verify(presented)

    def cached(self, presented: str) -> ApiKey | None:
        """The key if this process verified ``presented`` before and it is still valid; None otherwise.

        argon2 runs once per key and process (about 50 ms, on purpose); after that the key is
        trusted for ``REVOCATION_CHECK_SECONDS`` at a time, then its row is re-read (one primary-key
        lookup), so a key revoked anywhere (the CLI, another server process, another instance)
        stops working everywhere within two seconds. Only valid keys are remembered (least recently
        used evicted first): a flood of wrong keys can neither grow this cache nor push a valid key out."""
        digest = _digest(presented)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
            if hit is not None:
                self._cache.move_to_end(digest)
        if hit is None or hit[0] <= now:
            return None
        until, key, checked = hit
        if now - checked < REVOCATION_CHECK_SECONDS:
            return key
        if self._still_valid(key.id):
            self._remember(digest, (until, key, now))
            return key
        with self._lock:
            self._cache.pop(digest, None)
        return None

    def verify(self, presented: str) -> ApiKey | None:
        """Check ``presented`` against its stored Argon2 hash (the slow path); remember it when valid."""
        key = self._verify(presented)
        if key is not None:
            now = time.monotonic()
            self._remember(_digest(presented), (now + CACHE_SECONDS, key, now))
        return key

    def _remember(self, digest: str, entry: tuple[float, ApiKey, float]) -> None:
        with self._lock:
            self._cache[digest] = entry
            self._cache.move_to_end(digest)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    def _still_valid(self, key_id: str) -> bool:
        with self.sessions() as session:
            row = session.execute(select(ApiKeyRow.revoked_at).where(ApiKeyRow.id == key_id)).first()
        return row is not None and row.revoked_at is None

    def _verify(self, presented: str) -> ApiKey | None:
        from argon2.exceptions import InvalidHashError, VerificationError

        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != "hunter":
            return None
        with self.sessions() as session:
            row = session.get(ApiKeyRow, parts[1])
        if row is None or row.revoked_at is not None:
            return None
        try:
            self.hasher.verify(row.secret_hash, parts[2])
        except (VerificationError, InvalidHashError):
            return None
        scopes = frozenset().union(*(_IMPLIES[s] for s in row.scopes.split(",") if s in _IMPLIES))
        return ApiKey(row.id, row.name, scopes, row.rate_limit_per_minute)
