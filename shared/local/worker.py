"""The local runner's queue host: polls every queue function's queue the way the Functions host
does, with host.json's ``batchSize``, ``newBatchThreshold``, ``maxDequeueCount`` and
``maxPollingInterval``.

A received message stays hidden for ``HUNTER_QUEUE_LEASE`` seconds and the lease is renewed
while its handler runs, so a live worker keeps its messages and a killed one (SIGKILL, power
loss) releases them within one lease. One renewer per queue renews every message in hand at
once (one statement on the ``local`` backend), every third of a lease. A message that fails is
hidden for the backoff delay (``HUNTER_QUEUE_RETRY_BASE`` doubling per delivery up to
``HUNTER_QUEUE_RETRY_MAX``, jittered: ``shared.queues.retry``); after ``maxDequeueCount``
deliveries it moves to ``<queue>-poison`` with its body unchanged. The decision is
``shared.hosts.queue_runner.settle_failure``, the same the Azure functions make.

It also fires the timer functions (``shared.triggers.schedule.TIMER_FUNCTIONS``) on their NCRONTAB
schedules, as the Functions host does. Every worker fires them; a handler that must not run
twice at once (the Partner Center sync) takes a lease in the store, so extra fires are no-ops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import time
from datetime import UTC, datetime

from shared import telemetry
from shared.hosts.queue_runner import invoke, move_to_poison, settle_failure
from shared.logs import log_failure
from shared.queues import Delivery, Queue, QueueMessage, poison_name
from shared.queues.hostjson import QueueOptions, queue_options
from shared.queues.retry import RetryPolicy
from shared.runtime import Runtime, get_runtime
from shared.triggers.registry import QUEUE_FUNCTIONS, TIMER_FUNCTIONS, QueueTrigger, TimerTrigger
from shared.triggers.schedule import Schedule

log = logging.getLogger("hunter.worker")
MIN_POLL = 0.05


class QueueWorker:
    def __init__(
        self,
        functions: tuple[QueueTrigger, ...] = QUEUE_FUNCTIONS,
        options: QueueOptions | None = None,
        *,
        exit_when_idle: bool = False,
        handle_signals: bool = False,
        timers: tuple[TimerTrigger, ...] | None = None,
        runtime: Runtime | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.runtime = runtime or get_runtime()
        self.functions = functions
        # A worker draining queues for a script (exit_when_idle) fires no timers unless asked.
        self.timers = timers if timers is not None else (() if exit_when_idle else TIMER_FUNCTIONS)
        self.fired = 0
        self.options = options or queue_options()
        self.retry = retry or RetryPolicy.from_settings(self.runtime.settings, self.options.max_dequeue_count)
        self.lease = self.runtime.settings.queue_lease
        self.exit_when_idle = exit_when_idle
        self.handle_signals = handle_signals
        self.stopping = asyncio.Event()
        self.processed = 0
        self.failed = 0
        self.retries_due: dict[str, float] = {}  # queue → when the last retry this worker scheduled is due

    def _queue(self, name: str) -> Queue:
        return self.runtime.queue(name)

    async def run(self) -> None:
        if self.handle_signals:  # SIGTERM/SIGINT: stop taking messages, finish the ones in hand
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self.stopping.set)
        for function in self.functions:
            await asyncio.to_thread(self._queue(function.queue).create)
            await asyncio.to_thread(self._queue(poison_name(function.queue)).create)
        log.info("worker started", extra={"queues": [f.queue for f in self.functions], "lease": self.lease})
        watcher = asyncio.create_task(self._watch_parent())
        timers = [asyncio.create_task(self._fire(timer)) for timer in self.timers]
        await asyncio.gather(*(self._poll(function) for function in self.functions))
        if self.exit_when_idle:
            self.stopping.set()  # the queues are drained: let a timer finish its run and stop
        await asyncio.gather(*timers)
        watcher.cancel()
        log.info("worker stopped", extra={"processed": self.processed, "failed": self.failed})

    async def _watch_parent(self) -> None:
        """A worker started by ``hunter serve`` stops when serve is gone (even after a SIGKILL)."""
        from shared.local.supervisor import PARENT_ENV

        parent = os.environ.get(PARENT_ENV)
        if not parent:
            return
        while not self.stopping.is_set():
            if os.getppid() != int(parent):
                log.warning("parent process gone; stopping")
                self.stopping.set()
            await asyncio.sleep(1.0)

    async def _fire(self, timer: TimerTrigger) -> None:
        """Sleep until the schedule's next fire time (or until stopping), run the handler, repeat.
        A failing handler is logged and fired again next time, as the Functions host does."""
        try:
            schedule = Schedule.parse(getattr(self.runtime.settings, timer.schedule_setting))
            handler = timer.resolve()
        except Exception as exc:
            log.error("timer not started", extra={"timer": timer.name, "error": str(exc)})
            return
        last = datetime.now(UTC)
        while not self.stopping.is_set():
            # From the later of now and the last fire time: waking a hair early never fires twice.
            due = schedule.next_after(max(datetime.now(UTC), last))
            delay = (due - datetime.now(UTC)).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=max(0.0, delay))
            if self.stopping.is_set():
                break
            last = due
            self.fired += 1
            with telemetry.timer_span(timer.name) as current:
                try:
                    await handler(self.runtime)
                except Exception as exc:
                    telemetry.failed(current, exc)
                    log_failure(log, "timer function failed", exc, timer=timer.name)

    async def _poll(self, function: QueueTrigger) -> None:
        queue = self._queue(function.queue)
        leases = _Leases(queue, self.lease)
        renewer = asyncio.create_task(leases.renew_forever())
        try:
            await self._poll_with(function, queue, leases)
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    async def _poll_with(self, function: QueueTrigger, queue: Queue, leases: _Leases) -> None:
        running: set[asyncio.Task] = set()
        delay = MIN_POLL
        while not self.stopping.is_set():
            messages: list[QueueMessage] = []
            busy = bool(running)  # a message in hand may come back (retry): not idle yet
            if len(running) <= self.options.new_batch_threshold:
                try:
                    messages = await asyncio.to_thread(
                        queue.receive, self.options.batch_size, visibility_timeout=self.lease
                    )
                except Exception as exc:  # the store or service is down: back off, keep polling
                    log.warning("receive failed", extra={"queue": function.queue, "error": type(exc).__name__})
            for message in messages:
                task = asyncio.create_task(self._process(function, queue, message, leases))
                running.add(task)
                task.add_done_callback(running.discard)
            if messages:
                delay = MIN_POLL
                continue
            if running:
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED, timeout=delay)
                continue
            # Idle. A worker that exits when idle still waits for the retries it scheduled: their
            # messages are on the queue, only hidden for a while.
            if self.exit_when_idle and not busy and time.monotonic() >= self.retries_due.get(queue.name, 0.0):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)
            delay = min(delay * 2, self.options.max_polling_interval)
        if running:
            await asyncio.wait(running)

    def _policy(self, function: QueueTrigger) -> RetryPolicy:
        """This queue's retry policy: the worker's, with the registry's per-queue settings applied."""
        if function.retry_base_setting is None and function.max_attempts_setting is None:
            return self.retry
        return RetryPolicy.for_trigger(function, self.runtime.settings, self.retry.max_attempts)

    async def _process(self, function: QueueTrigger, queue: Queue, message: QueueMessage, leases: _Leases) -> None:
        policy = self._policy(function)
        if message.dequeue_count > policy.max_attempts:
            # Delivered more often than allowed without finishing: its workers died running it.
            await self._poison(queue, message, "exceeded maxDequeueCount without completing")
            return
        leases.hold(message)
        try:
            await invoke(
                function, message.body, Delivery(message.id, function.queue, message.dequeue_count), self.runtime
            )
        except Exception as exc:
            self.failed += 1
            current = await leases.release(message)
            try:
                outcome = await settle_failure(self.runtime, queue, current, policy, exc)
            except Exception as settle_error:  # it comes back when its lease runs out, and is counted
                log_failure(log, "could not settle a failed message", settle_error, queue=queue.name)
                return
            if outcome.action == "retry":  # Azure and SQS round the delay up to whole seconds
                due = time.monotonic() + math.ceil(outcome.delay) + 0.5
                self.retries_due[queue.name] = max(self.retries_due.get(queue.name, 0.0), due)
            else:
                await asyncio.to_thread(queue.delete, current)
            return
        except BaseException:
            await leases.release(message)
            raise
        self.processed += 1
        await asyncio.to_thread(queue.delete, await leases.release(message))

    async def _poison(self, queue: Queue, message: QueueMessage, reason: str) -> None:
        await asyncio.to_thread(move_to_poison, self.runtime, queue.name, message, reason, "worker")
        await asyncio.to_thread(queue.delete, message)


class _Leases:
    """The messages one poll loop holds, with their current receipts, renewed together.

    A renewal and a release never overlap (one lock), so a message is deleted, retried or
    poisoned with the receipt its last renewal gave it, never a stale one."""

    def __init__(self, queue: Queue, lease: float) -> None:
        self.queue = queue
        self.lease = lease
        self.held: dict[str, QueueMessage] = {}
        self.lock = asyncio.Lock()

    def hold(self, message: QueueMessage) -> None:
        self.held[message.id] = message

    async def release(self, message: QueueMessage) -> QueueMessage:
        async with self.lock:
            return self.held.pop(message.id, message)

    async def renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            await self.renew()

    async def renew(self) -> None:
        async with self.lock:
            messages = list(self.held.values())
            if not messages:
                return
            try:
                renewed = await asyncio.to_thread(self.queue.update_visibility_many, messages, self.lease)
            except Exception as exc:
                log.warning("lease renewal failed", extra={"queue": self.queue.name, "error": type(exc).__name__})
                return
            for old, new in zip(messages, renewed, strict=True):
                if new is None:
                    log.warning("lease renewal failed", extra={"queue": self.queue.name, "message_id": old.id})
                elif self.held.get(old.id) is old:
                    self.held[old.id] = new


def run_worker(*, exit_when_idle: bool = False) -> QueueWorker:
    from shared import aio
    from shared.scan.gc_tuning import WORKER_THRESHOLDS, tune_for_bulk_scan

    tune_for_bulk_scan(WORKER_THRESHOLDS)  # a long-lived process scanning batches: fewer cyclic-GC passes
    worker = QueueWorker(exit_when_idle=exit_when_idle, handle_signals=True)
    with telemetry.flushed():  # the last spans, metrics and logs leave before the process does
        aio.run(worker.run())
    return worker
