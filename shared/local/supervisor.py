"""``hunter serve``'s queue workers: N ``hunter worker`` processes, restarted if they die.

They are separate processes, as the Functions host's workers are, so a crash (or a SIGKILL in
the crash-safety test) takes down one worker and its leased messages only; those reappear
after the lease and the restarted worker finishes them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

log = logging.getLogger("hunter.local")
RESTART_DELAY = 1.0
PARENT_ENV = "HUNTER_WORKER_PARENT"  # a supervised worker stops when this process is gone


class WorkerSupervisor:
    def __init__(self, count: int) -> None:
        self.count = count
        self.processes: list[subprocess.Popen | None] = [None] * count
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="hunter-worker-supervisor", daemon=True)

    def _spawn(self, slot: int) -> None:
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        self.processes[slot] = subprocess.Popen([sys.executable, "-m", "shared", "worker"], env=env)

    def start(self) -> WorkerSupervisor:
        for slot in range(self.count):
            self._spawn(slot)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(RESTART_DELAY):
            for slot, process in enumerate(self.processes):
                if process is not None and process.poll() is not None and not self._stop.is_set():
                    log.warning(
                        "queue worker exited; restarting", extra={"pid": process.pid, "code": process.returncode}
                    )
                    self._spawn(slot)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in self.processes:
            if process is None:
                continue
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
