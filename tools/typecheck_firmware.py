#!/usr/bin/env python3
"""Type-check the firmware against the MicroPython stubs of each board port, not CPython's.

mypy runs with the port's stubs as its whole standard library (--custom-typeshed-dir: the
stdlib stubs package ships a typeshed-shaped `stdlib/`) and as its search path (MYPYPATH: machine,
micropython, the port's modules), and without site-packages, so anything only CPython has
(`import pathlib`, `dataclasses`, `time.perf_counter`, `str.removeprefix`...) is an error. Bodies
of unannotated functions are checked too (firmware code has no annotations).

The stubs of the two ports define the same modules differently, so each port is installed into
its own folder: `pip install --target .venv/stubs/PORT "micropython-PORT-stubs>=1.29.0.post1,<1.30"`
(done here when missing).

    tools/typecheck_firmware.py [--port esp32|rp2]... [paths...]   (default: both ports, firmware/)
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PORTS = ("esp32", "rp2")
STUBS_SPEC = "micropython-{port}-stubs>=1.29.0.post1,<1.30"
MYPY_INI = """[mypy]
python_version = 3.11
no_site_packages = True
check_untyped_defs = True
# errors are reported for the files given, not for the modules they import
follow_imports = silent
"""
# Modules that only the unix port (the virtual board) runs: checked against no board's stubs
# (they use AF_UNIX sockets); code importing them sees them as untyped.
# The same for CPython-only modules (the host's virtual time).
UNIX_ONLY = ("straja_node.hw.board_unix", "straja_node.hosttime")
SKIP_SECTION = """[mypy-{module}]
follow_imports = skip
"""


def stubs_dir(port, root=None):
    return Path(root or REPO / ".venv" / "stubs") / port


def install_stubs(port, root=None):
    """The port's stub folder, installed with pip --target on first use."""
    target = stubs_dir(port, root)
    if not (target / "stdlib" / "VERSIONS").is_file():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
                        STUBS_SPEC.format(port=port)], check=True)
    return target


def check(port, paths, root=None):
    """Run mypy for one port; returns (exit code, report): code 1 if the firmware has errors."""
    stubs = install_stubs(port, root)
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "mypy.ini"
        ini.write_text(MYPY_INI + "".join(SKIP_SECTION.format(module=m) for m in UNIX_ONLY))
        env = dict(os.environ, MYPYPATH=str(stubs))
        r = subprocess.run(
            [sys.executable, "-m", "mypy", "--config-file", str(ini), "--custom-typeshed-dir",
             str(stubs), "--cache-dir", str(Path(tmp) / "cache"), *map(str, files(paths))],
            cwd=tmp, env=env, capture_output=True, text=True)
    if r.returncode not in (0, 1):  # mypy itself failed
        return r.returncode, r.stdout + r.stderr
    # stub files are always checked in full, and the stub packages have errors of their own
    # (e.g. machine.pyi redefinitions) that say nothing about the firmware
    lines = [line for line in r.stdout.splitlines()
             if not line.startswith((str(stubs), "Found ", "Success:"))]
    errors = sum(": error:" in line for line in lines)
    lines.append("%d errors in the firmware (%d files checked)" % (errors, len(files(paths))))
    return int(errors > 0), "\n".join(lines)


def files(paths):
    """The .py files under `paths`, without the unix-port-only modules."""
    out = []
    for p in paths:
        found = sorted(p.rglob("*.py")) if p.is_dir() else [p]
        out += [f for f in found if not any(f.as_posix().endswith(m.replace(".", "/") + ".py")
                                            for m in UNIX_ONLY)]
    return out


def firmware_paths():
    fw = REPO / "firmware"
    return [fw / "straja_node"] + sorted(fw.glob("*.py"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", action="append", choices=PORTS, help="default: all ports")
    ap.add_argument("--stubs-root",
                    help="folder of the per-port stub folders (default .venv/stubs)")
    ap.add_argument("paths", nargs="*", type=Path, help="default: the firmware")
    args = ap.parse_args(argv)
    worst = 0
    for port in args.port or PORTS:
        code, out = check(port, [p.resolve() for p in args.paths] or firmware_paths(),
                          args.stubs_root)
        print("[%s] %s" % (port, out.strip()))
        worst = max(worst, code)
    return worst


if __name__ == "__main__":
    sys.exit(main())
