"""Queues: one contract (:mod:`shared.queues.base`), three backends chosen by settings.

``local`` keeps messages in the Hunter database (embedded default, nothing to install);
``azure`` talks to Azure Storage queues (Azurite locally); ``sqs`` talks to AWS SQS. Backend
modules are imported on first use so that ``import function_app`` stays light.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from shared.queues.base import (
    POISON_SUFFIX,
    Delivery,
    PermanentError,
    Queue,
    QueueError,
    QueueMessage,
    check_queue_name,
    poison_name,
)
from shared.queues.retry import RetryPolicy, retry_delay

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from shared.config import Settings

__all__ = [
    "POISON_SUFFIX",
    "Delivery",
    "PermanentError",
    "Queue",
    "QueueError",
    "QueueMessage",
    "RetryPolicy",
    "check_queue_name",
    "open_queue",
    "poison_name",
    "retry_delay",
]


def open_queue(name: str, settings: Settings, engine: Engine | None = None) -> Queue:
    """The queue ``name`` on the configured backend (``engine`` is the Hunter database, for ``local``)."""
    check_queue_name(name)
    if settings.queue_backend == "azure":
        from shared.queues.azure import AzureQueue

        connection = settings.queue_connection or os.environ.get("AzureWebJobsStorage") or ""
        if not connection:
            # Identity-based (no key), as the Functions host connects: AzureWebJobsStorage__accountName.
            from shared.queues.azure import identity_queue_url

            account_url = identity_queue_url(os.environ)
            if account_url:
                return AzureQueue(name, account_url=account_url, credential=_identity_credential())
            raise QueueError(
                "HUNTER_QUEUE_BACKEND=azure needs HUNTER_QUEUE_CONNECTION, AzureWebJobsStorage or "
                "AzureWebJobsStorage__accountName (identity-based)"
            )
        return AzureQueue(name, connection)
    if settings.queue_backend == "sqs":
        from shared.queues.hostjson import queue_options
        from shared.queues.sqs import SqsQueue

        return SqsQueue(
            name,
            endpoint_url=settings.sqs_endpoint_url,
            region=settings.aws_region,
            max_receive_count=queue_options().max_dequeue_count,
        )
    from shared.queues.local import LocalQueue

    if engine is None:
        from shared.store.db import engine_for

        engine = engine_for(settings.database_url, auto_migrate=settings.auto_migrate)
    return LocalQueue(name, engine)


_credentials: dict[str, object] = {}


def _identity_credential() -> object:
    """One credential per process for every identity-based queue (it caches its token)."""
    credential = _credentials.get("storage")
    if credential is None:
        from shared.queues.azure import identity_credential

        credential = _credentials.setdefault("storage", identity_credential(os.environ))
    return credential
