"""``hunter serve`` and ``hunter migrate``: run the local host (every HTTP function, queue workers,
timers) and create or upgrade the schema."""

from __future__ import annotations

import click

from shared.cli.common import db_option, err, settings_for


@click.command()
@db_option
@click.option(
    "--create-app-role",
    "app_role",
    metavar="ROLE",
    help="Also create (if missing) the app's least-privilege PostgreSQL role ROLE: CONNECT, schema USAGE and "
    "SELECT/INSERT/UPDATE/DELETE on the tables, now and for tables later migrations add; never DDL or admin.",
)
@click.option(
    "--object-id",
    metavar="GUID",
    help="With --create-app-role on Azure: the managed identity's object (principal) id; the role is created "
    "with pgaadauth_create_principal_with_oid, so the identity signs in with Entra tokens. Without it: CREATE ROLE.",
)
def migrate(database_url: str | None, app_role: str | None, object_id: str | None) -> None:
    """Create or upgrade the database schema, under a lock (safe from several processes at once).

    The deploy step in production (HUNTER_AUTO_MIGRATE=false there); locally every process also
    migrates on first use. On Azure the deploy hook runs it as the server's Entra administrator
    (HUNTER_DATABASE_AUTH=entra, a token from `az login`) with --create-app-role for the app's identity.
    """
    from shared.store.db import make_engine
    from shared.store.db import migrate as run_migrations

    settings = settings_for(database_url=database_url)
    if object_id and not app_role:
        raise click.UsageError("--object-id goes with --create-app-role")
    try:
        engine = make_engine(settings.database_url, auth=settings.database_auth)
    except ValueError as exc:  # e.g. HUNTER_DATABASE_AUTH=entra without TLS
        raise click.UsageError(str(exc)) from exc
    shown = engine.url.render_as_string(hide_password=True)
    run_migrations(engine)
    err.print(f"schema is up to date in {shown}")
    if app_role:
        if engine.dialect.name != "postgresql":
            raise click.UsageError("--create-app-role needs a PostgreSQL database")
        from shared.store.entra import create_app_role

        postgres_engine = None
        if object_id:
            postgres_url = engine.url.set(database="postgres").render_as_string(hide_password=False)
            postgres_engine = make_engine(postgres_url + _sslmode(settings.database_url), auth=settings.database_auth)
        try:
            create_app_role(engine, app_role, object_id=object_id, postgres_engine=postgres_engine)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        finally:
            if postgres_engine is not None:
                postgres_engine.dispose()
        err.print(f"role {app_role} may connect and read and write the tables (no DDL, not an administrator)")
    engine.dispose()


def _sslmode(url: str) -> str:
    """The URL's sslmode as a query suffix (make_engine turns it into pg8000's TLS context and drops it)."""
    from sqlalchemy import make_url

    mode = make_url(url).query.get("sslmode")
    return f"?sslmode={mode}" if isinstance(mode, str) else ""


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=7071, show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Threads per server process that run requests. 1: one request at a time per process (lowest "
    "latency); more let a process overlap slow requests such as big exports.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Server processes (default: one per core, at least 2).",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(0.5, 300),
    default=10.0,
    show_default=True,
    envvar="HUNTER_SERVE_HEADER_TIMEOUT",
    show_envvar=True,
    help="Seconds from the connect to the end of the request line and headers (then 408 and close).",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(0.5, 3600),
    default=30.0,
    show_default=True,
    envvar="HUNTER_SERVE_READ_TIMEOUT",
    show_envvar=True,
    help="Seconds a request body may pause (then 408), or a client take to accept each write of an answer.",
)
@db_option
@click.option("--bootstrap-key", is_flag=True, help="Create and print an admin key when the database has none.")
@click.option(
    "--queue-workers",
    type=click.IntRange(0, 32),
    help="Queue workers beside the server (default HUNTER_WORKER_PROCESSES: one per core, at most 4); 0 = none.",
)
def serve(
    host: str,
    port: int,
    threads: int,
    workers: int | None,
    header_timeout: float,
    read_timeout: float,
    database_url: str | None,
    bootstrap_key: bool,
    queue_workers: int | None,
) -> None:
    """Run every HTTP function locally on one port (functions-framework), as on Azure: /api/v1/...

    Beside it, queue workers run the queue functions (bulk scans) with host.json's retry and
    poison settings; a worker that dies is restarted.

    Bodies are capped per route (20 MB for uploads, 1 MB of JSON, 64 KB elsewhere: 413 before the
    body is read); request lines over 8190 bytes get 414, more than 100 or oversized header fields 431.
    """
    import os

    from shared.local.server import ServeLimits
    from shared.local.server import serve as run_server
    from shared.store.keys import ApiKeyStore

    settings = settings_for(database_url=database_url)
    if database_url:
        os.environ["HUNTER_DATABASE_URL"] = database_url  # the server process reads its settings from the env
    from shared.store.db import make_engine, migrate

    # Migrate and bootstrap on a short-lived engine, closed before the server forks its workers:
    # a pooled connection inherited by two processes would interleave their protocol messages.
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        store = ApiKeyStore(engine)
        if bootstrap_key and not store.list():
            key, _ = store.create("local-admin", ["admin"])
            err.print(f"Created API key 'local-admin' (admin). It is shown once, keep it:\n  [bold]{key}[/]")
    finally:
        engine.dispose()
    base = f"http://{host}:{port}/api"
    err.print(f"Hunter API on [bold]{base}/v1/leads[/] (OpenAPI: {base}/v1/openapi.json, health: {base}/healthz/ready)")
    err.print('Send your key as X-API-Key, e.g. curl -H "X-API-Key: $KEY" ' + f"{base}/v1/dashboard")
    from shared.local.server import shared_metrics
    from shared.local.supervisor import WorkerSupervisor

    count = settings.worker_processes if queue_workers is None else queue_workers
    with shared_metrics():  # one /healthz/metrics view of the server processes and queue workers
        supervisor = WorkerSupervisor(count).start() if count else None
        if supervisor:
            err.print(f"{count} queue worker(s) on the {settings.queue_backend} queue backend (hunter queue stats)")
        try:
            limits = ServeLimits(header_timeout=header_timeout, read_timeout=read_timeout)
            run_server(host, port, threads=threads, workers=workers, limits=limits)
        finally:
            if supervisor:
                supervisor.stop()
