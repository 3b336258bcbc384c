"""Claims on runs: several processes share the runs of one folder, and each run is computed once.

Two ``slicesim bench`` (or ``sweep``) processes pointed at the same folder, or a local pool beside
a Ray cluster, would otherwise compute every run twice. Before computing a run a process claims
it: it creates ``<run folder>/claim.json`` atomically (``O_CREAT | O_EXCL``) with its host, pid
and the pid's start time, and touches it every :data:`HEARTBEAT_S` while it runs. A process that
finds a claim leaves the run alone while the claim is live and takes it over when it is stale:
its owner is gone (on the same host: that pid no longer runs the process that claimed), or silent
(no heartbeat for :data:`STALE_S`, the only test across hosts). Takeovers on one host happen under
a file lock, so two processes never take over the same claim. The claim is removed once the
run's results are written (``summary.json`` last), so a ``kill -9`` leaves a stale claim that the
next process takes over, and the run is computed again from its seed: the same numbers.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["HEARTBEAT_S", "STALE_S", "claimed", "live_claim"]

HEARTBEAT_S = 20.0
"""How often the owner of a claim touches it."""
STALE_S = 180.0
"""A claim not touched for this long is stale, whoever owns it."""

_NAME = "claim.json"


def _started(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, /proc), None if not running."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _me() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": _started(pid)}


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def _live(path: Path) -> bool:
    """Whether the claim at ``path`` is held by a process that is still at it."""
    owner = _read(path)
    if owner is None:
        return path.exists()  # being written this instant: leave it to its owner
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    if owner.get("host") == socket.gethostname():
        pid = int(owner.get("pid", -1))
        return pid > 0 and _started(pid) is not None and _started(pid) == owner.get("started")
    return age < STALE_S


def live_claim(folder: str | Path) -> bool:
    """Whether another process holds a live claim on the run in ``folder``."""
    path = Path(folder) / _NAME
    return path.exists() and _read(path) != _me() and _live(path)


def _create(path: Path, me: dict[str, Any]) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        json.dump(me, fh)
    return True


def _take(path: Path, me: dict[str, Any]) -> bool:
    """Claim ``path``: create it, or take it over if it is stale (under a lock on this host)."""
    if _create(path, me):
        return True
    with open(path.with_name("claim.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _live(path):
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return _create(path, me)


@contextlib.contextmanager
def claimed(folder: str | Path) -> Iterator[bool]:
    """Claim the run in ``folder`` for this process while the block runs; yields whether it got
    it (False: another process is computing it). The claim is kept alive by a heartbeat and
    removed at the end."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path, me = folder / _NAME, _me()
    if not _take(path, me):
        yield False
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            with contextlib.suppress(OSError):
                os.utime(path)

    heart = threading.Thread(target=beat, daemon=True)
    heart.start()
    try:
        yield True
    finally:
        stop.set()
        heart.join()
        if _read(path) == me:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
