"""Child processes with a log file, a readiness probe and a clean stop of their whole process group.

Every component of the demo runs as its own process (as it would in a pod), each in its own session so
that stopping it also stops what it forked (vLLM's engine core).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

STOP_GRACE_S = 15.0


class StartError(RuntimeError):
    """A component exited or did not become ready; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(cannot read {path}: {exc})"


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM the group, SIGKILL what is left after ``grace_s``; idempotent."""
        if self.process.returncode is not None and self.process.returncode != -signal.SIGKILL:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # orphans of an exited leader
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def launch(name: str, cmd: Sequence[str], log_dir: Path, *, env: Mapping[str, str] | None = None,
           cwd: Path | None = None) -> Proc:
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
        )
    return Proc(name, process, log_path)


def wait_ready(proc: Proc, url: str, timeout: float, *, ok: Sequence[int] = (200,)) -> float:
    """Poll ``url`` until it answers one of ``ok``; returns the seconds it took."""
    started = time.monotonic()
    with httpx.Client(timeout=2.0) as client:
        while True:
            if not proc.alive():
                raise StartError(f"{proc.name} exited with {proc.process.returncode} while starting; "
                                 f"end of {proc.log_path}:\n{tail(proc.log_path)}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code in ok:
                    return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise StartError(f"{proc.name} not ready at {url} after {timeout:.0f} s; "
                                 f"end of {proc.log_path}:\n{tail(proc.log_path)}")
            time.sleep(0.3)
