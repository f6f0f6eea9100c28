"""``hunter worker``, ``hunter queue …`` and ``hunter jobs …``: the queue side of the command line."""

from __future__ import annotations

import json
import time

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from shared.cli.common import db_option, err, out
from shared.cli.common import settings_for as _settings
from shared.config import Settings, get_settings

STALL_HINT_SECONDS = 20.0


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    from shared.store.db import engine_for

    return engine_for(settings.database_url, auto_migrate=settings.auto_migrate)


def _ops(database_url: str | None):  # type: ignore[no-untyped-def]
    from shared.services.queue_ops import QueueOps

    settings = _settings(database_url)
    return QueueOps(settings, _engine(settings))


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m" if seconds < 7200 else f"{seconds / 3600:.1f}h"


@click.command()
@click.option("--exit-when-idle", is_flag=True, help="Stop once every queue is empty (for scripts and benchmarks).")
@db_option
def worker(exit_when_idle: bool, database_url: str | None) -> None:
    """Run the queue functions (bulk scan batches, …) as the Functions host would, until stopped.

    Retry, poison and batch settings come from host.json; the backend from HUNTER_QUEUE_BACKEND.
    Any number of workers may run at once, on one machine or several.
    """
    import os

    if database_url:
        os.environ["HUNTER_DATABASE_URL"] = database_url
        get_settings.cache_clear()
    from shared.local.worker import run_worker

    done = run_worker(exit_when_idle=exit_when_idle)
    err.print(f"worker stopped: {done.processed} messages processed, {done.failed} failed deliveries")


@click.group()
def queue() -> None:
    """Inspect queues and their poison queues; redrive or purge poison messages."""


@queue.command("stats")
@click.option("--json", "as_json", is_flag=True)
@db_option
def queue_stats(as_json: bool, database_url: str | None) -> None:
    """Length, poison length and oldest message age of every queue."""
    stats = _ops(database_url).stats()
    if as_json:
        out.file.write(json.dumps([vars(s) for s in stats]) + "\n")
        return
    table = Table("Queue", "Messages", "Oldest", "Poison", "Oldest poison", header_style="bold")
    for s in stats:
        poison = f"[red]{s.poison_length}[/]" if s.poison_length else "0"
        table.add_row(s.name, str(s.length), _age(s.oldest_age_seconds), poison, _age(s.poison_oldest_age_seconds))
    out.print(table)


@queue.command("peek")
@click.argument("name")
@click.option("--poison", is_flag=True, help="Show the poison queue, with each message's last error.")
@click.option("--limit", type=click.IntRange(1, 32), default=32, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@db_option
def queue_peek(name: str, poison: bool, limit: int, as_json: bool, database_url: str | None) -> None:
    """Show messages of NAME without taking them."""
    ops = _ops(database_url)
    try:
        if poison:
            rows = [
                {
                    "id": m.id,
                    "enqueued_at": m.enqueued_at,
                    "dequeue_count": m.dequeue_count,
                    "last_error": m.last_error,
                    "body": m.body,
                }
                for m in ops.peek_poison(name, limit)
            ]
        else:
            rows = [
                {
                    "id": m.id,
                    "enqueued_at": m.enqueued_at,
                    "dequeue_count": m.dequeue_count,
                    "last_error": None,
                    "body": m.body,
                }
                for m in ops.peek(name, limit)
            ]
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
    if as_json:
        for row in rows:
            out.file.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
        return
    table = Table("Id", "Enqueued", "Deliveries", "Last error", "Body", header_style="bold")
    for row in rows:
        when = f"{row['enqueued_at']:%Y-%m-%d %H:%M:%S}" if row["enqueued_at"] else "—"
        table.add_row(row["id"], when, str(row["dequeue_count"] or "—"), row["last_error"] or "", row["body"])
    out.print(table)
    err.print(f"{len(rows)} message(s) on {name}{'-poison' if poison else ''}")


@queue.command("redrive")
@click.argument("name")
@click.option("--ids", "ids", multiple=True, help="Poison message id to move back; repeatable or comma-separated.")
@click.option("--all", "all_", is_flag=True, help="Move every poison message back.")
@db_option
def queue_redrive(name: str, ids: tuple[str, ...], all_: bool, database_url: str | None) -> None:
    """Move poison messages of NAME back to NAME: body unchanged, dequeue count reset, audited."""
    import getpass

    wanted = [i.strip() for value in ids for i in value.split(",") if i.strip()]
    if bool(wanted) == all_:
        raise click.UsageError("give --ids ID[,ID…] or --all")
    try:
        moved = _ops(database_url).redrive(name, ids=None if all_ else wanted, actor=f"cli:{getpass.getuser()}")
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
    for message_id in moved:
        out.print(f"redriven {message_id}")
    missing = sorted(set(wanted) - set(moved))
    for message_id in missing:
        err.print(f"[yellow]not found on {name}-poison:[/] {message_id}")
    err.print(f"{len(moved)} message(s) moved back to {name}")
    if missing:
        raise SystemExit(1)


@queue.command("purge")
@click.argument("name")
@click.option("--poison", is_flag=True, required=True, help="Required: only poison queues can be purged.")
@click.option("--yes", is_flag=True, help="Confirm deleting every poison message of NAME.")
@db_option
def queue_purge(name: str, poison: bool, yes: bool, database_url: str | None) -> None:
    """Delete every poison message of NAME (audited). Needs --poison --yes."""
    import getpass

    if not yes:
        raise click.UsageError("purging deletes messages for good; add --yes to confirm")
    try:
        count = _ops(database_url).purge_poison(name, actor=f"cli:{getpass.getuser()}")
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
    err.print(f"purged {count if count >= 0 else 'all'} poison message(s) of {name}")


@click.group()
def jobs() -> None:
    """Bulk scan jobs: list, show, resume."""


@jobs.command("list")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@db_option
def jobs_list(limit: int, database_url: str | None) -> None:
    """The most recent jobs with their progress."""
    from shared.store.jobs import JobStore

    store = JobStore(_engine(_settings(database_url)))
    table = Table("Job", "Created", "Source", "Status", "Done", "Failed", "Invalid", "Queued", header_style="bold")
    for job in store.recent(limit):
        p = store.progress(job.id)
        table.add_row(
            job.id,
            f"{job.created_at:%Y-%m-%d %H:%M}",
            job.source,
            p.status,
            str(p.counts["done"]),
            str(p.counts["failed"]),
            str(p.counts["invalid"]),
            str(p.counts["queued"]),
        )
    out.print(table)


@jobs.command("show")
@click.argument("job_id")
@click.option(
    "--status", type=click.Choice(["queued", "done", "failed", "invalid"]), help="Only rows with this status."
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@db_option
def jobs_show(job_id: str, status: str | None, limit: int, database_url: str | None) -> None:
    """A job's totals and its rows (each domain's outcome, or why a row was invalid)."""
    from shared.store.jobs import JobNotFound, JobStore

    store = JobStore(_engine(_settings(database_url)))
    try:
        state = store.progress(job_id)
        items = store.items(job_id, status=status, limit=limit)
    except JobNotFound:
        raise click.BadParameter(f"no job {job_id}", param_hint="JOB_ID") from None
    table = Table("Row", "Input", "Domain", "Status", "Provider", "Score", "Priority", "Error", header_style="bold")
    for i in items:
        table.add_row(
            str(i.row or ""),
            i.input,
            i.domain or "",
            i.status,
            i.provider or "",
            "" if i.score is None else str(i.score),
            i.priority_category or "",
            i.error or "",
        )
    out.print(table)
    c = state.counts
    err.print(
        f"{job_id} {state.status}: {c['done']} done, {c['failed']} failed, {c['invalid']} invalid, "
        f"{c['queued']} queued, {state.job.duplicates} duplicates collapsed"
    )


@jobs.command("resume")
@click.argument("job_id")
@db_option
def jobs_resume(job_id: str, database_url: str | None) -> None:
    """Enqueue again the batches of JOB_ID that still have unscanned domains (safe to repeat)."""
    from shared.jobs.submit import resume_job
    from shared.store.jobs import JobNotFound, JobStore

    settings = _settings(database_url)
    engine = _engine(settings)
    try:
        JobStore(engine).get(job_id)
    except JobNotFound:
        raise click.BadParameter(f"no job {job_id}", param_hint="JOB_ID") from None
    err.print(f"{resume_job(job_id, settings, engine)} batch(es) enqueued for {job_id}")


def submit_and_follow(rows, settings: Settings, source: str) -> None:  # type: ignore[no-untyped-def]
    """``hunter scan --async``: store and enqueue the job, then follow it with a progress bar."""
    from shared.jobs.submit import submit_job

    engine = _engine(settings)
    follow(submit_job(rows, settings, engine, source=source), settings)


def follow(job, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """Print the submitted job, then follow it with a live progress bar until it is done."""
    from shared.store.jobs import JobStore

    store = JobStore(_engine(settings))
    err.print(
        f"job [bold]{job.id}[/]: {job.unique_domains} domains in {job.batches} batches "
        f"({job.invalid} invalid, {job.duplicates} duplicates) on the {settings.queue_backend} queue"
    )
    progress = Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )
    task = progress.add_task("job", total=job.unique_domains, rate="")
    last_change, last_finished, hinted = time.monotonic(), -1, False
    with progress:
        while True:
            state = store.progress(job.id)
            rate = f"{state.rate:.0f}/s" if state.rate else ""
            progress.update(task, completed=state.finished, rate=rate)
            if state.status == "done":
                break
            if state.finished != last_finished:
                last_change, last_finished = time.monotonic(), state.finished
            elif not hinted and time.monotonic() - last_change > STALL_HINT_SECONDS:
                progress.console.print(
                    "[yellow]no progress yet: is a worker running? start one with `hunter worker` "
                    "(or `hunter serve`), this bar keeps following the job[/]"
                )
                hinted = True
            time.sleep(0.5)
    c = state.counts
    err.print(
        f"job {job.id} done: {c['done']} scanned, {c['failed']} failed, {c['invalid']} invalid "
        f"in {state.elapsed or 0:.1f}s; results: hunter jobs show {job.id} or GET /api/v1/scans/{job.id}/results"
    )
