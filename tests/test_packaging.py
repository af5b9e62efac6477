"""`pip install` of a built wheel, in a fresh virtual environment (no access to this checkout):
the commands work from the package alone, with firmware/, hardware/ and scenes/ as its data, and
a command whose extra is missing says which extra to install."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from straja.paths import REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh venv holding the wheel of this checkout (base dependencies
    only: no extras, so no paho-mqtt, esptool or matplotlib)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps",
                    "--no-build-isolation", "--quiet", "-w", str(tmp / "wheels")],
                   check=True, capture_output=True, timeout=900)
    wheel = next((tmp / "wheels").glob("straja-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True, timeout=300)
    bin_dir = tmp / "venv" / "bin"
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                   check=True, capture_output=True, timeout=900)
    return bin_dir


def straja(bin_dir: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / "straja"), *argv], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_the_wheel_works_without_the_checkout(installed, tmp_path):
    r = straja(installed, "doctor", "--json", cwd=tmp_path)
    report = json.loads(r.stdout)
    assert r.returncode == 0, report
    checks = {c["name"]: c for c in report["checks"]}
    site = str(installed.parent / "lib")
    assert checks["cython core straja._framing"]["detail"].startswith(f"compiled: {site}")
    assert checks["package paho-mqtt"] == {**checks["package paho-mqtt"], "ok": False,
                                           "required": False,
                                           "fix": "pip install 'straja[gateway]'"}

    r = straja(installed, "sim", "node", "--help", cwd=tmp_path)
    assert r.returncode == 0 and "usage: straja sim node" in r.stdout
    r = straja(installed, "sim", "check", "demo_incursion", cwd=tmp_path)  # the shipped scenes
    assert r.returncode == 0 and "scene 'demo_incursion'" in r.stdout
    r = straja(installed, "deploy", "--help", cwd=tmp_path)
    assert r.returncode == 0 and "site-packages/straja/_data/firmware" in "".join(r.stdout.split())
    r = straja(installed, "deploy", "/dev/ttyNOPE", "--json", cwd=tmp_path)  # the shipped firmware
    assert r.returncode == 3 and json.loads(r.stdout)[0]["error"] == "no such port: /dev/ttyNOPE"


def test_a_command_without_its_extra_names_the_extra(installed, tmp_path):
    # its help needs nothing the extra brings (a command imports those as it runs)
    r = straja(installed, "gateway", "--help", cwd=tmp_path)
    assert r.returncode == 0 and "usage: straja gateway" in r.stdout
    r = straja(installed, "gateway", "--duration", "1", "--db", str(tmp_path / "gw.db"),
               cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "needs the Python package 'paho'" in r.stderr and "straja[gateway]" in r.stderr
    assert not (tmp_path / "gw.db").exists()  # refused before anything was opened
