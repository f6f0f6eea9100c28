"""API key administration over HTTP (``admin`` scope): list, create (the key is shown once), revoke.

The same operations as ``hunter apikey create|list|revoke``, for the web app's Operations screen.
Only the Argon2 hash of a key is stored, so a lost key cannot be shown again: revoke it and create a
new one. A key cannot revoke itself, so an administrator cannot lock themselves out by a slip.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.api.models import NoQuery
from shared.http.types import HttpRequest, HttpResponse, ProblemError
from shared.runtime import Runtime

Scope = Literal["read", "scan", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiKeyOut(_Strict):
    id: str = Field(description="the public id inside the key (hunter_<id>_<secret>)")
    name: str
    scopes: list[Scope] = Field(description="as granted: admin includes scan and read, scan includes read")
    rate_limit_per_minute: int
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyList(_Strict):
    items: list[ApiKeyOut]


class ApiKeyCreate(_Strict):
    name: str = Field(min_length=1, max_length=100, description="who or what uses the key; unique")
    scopes: list[Scope] = Field(min_length=1, max_length=3)
    rate_limit_per_minute: int = Field(600, ge=1, le=100_000)

    @field_validator("name")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a key needs a name")
        return value.strip()


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key itself: shown this once, only its hash is stored")


def _out(row) -> ApiKeyOut:  # type: ignore[no-untyped-def]
    return ApiKeyOut(
        id=row.id,
        name=row.name,
        scopes=[s for s in row.scopes.split(",") if s],
        rate_limit_per_minute=row.rate_limit_per_minute,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def list_keys(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    NoQuery.model_validate(request.query_params())
    rows = runtime.keys.list()
    return HttpResponse.json(ApiKeyList(items=[_out(r) for r in rows]).model_dump(mode="json"))


def create_key(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    from shared.store.keys import ApiKeyError

    NoQuery.model_validate(request.query_params())
    body = ApiKeyCreate.model_validate(request.json())
    scopes = list(dict.fromkeys(body.scopes))
    try:
        key, row = runtime.keys.create(body.name, scopes, body.rate_limit_per_minute)
    except ApiKeyError as exc:
        raise ProblemError(409, "Key name taken", str(exc)) from None
    created = ApiKeyCreated(key=key, **_out(row).model_dump())
    return HttpResponse.json(created.model_dump(mode="json"), status=201, headers={"Cache-Control": "no-store"})


def revoke_key(request: HttpRequest, runtime: Runtime) -> HttpResponse:
    from shared.store.keys import ApiKeyError

    NoQuery.model_validate(request.query_params())
    key_id = request.route_params["key_id"]
    if request.api_key is not None and request.api_key.id == key_id:
        raise ProblemError(409, "Cannot revoke the key in use", "sign in with another admin key to revoke this one")
    try:
        row = runtime.keys.revoke(key_id, by_id=True)
    except ApiKeyError as exc:
        raise ProblemError(404, "Key not found", str(exc)) from None
    return HttpResponse.json(_out(row).model_dump(mode="json"))
