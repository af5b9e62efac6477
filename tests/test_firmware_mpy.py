"""Every firmware module compiles with mpy-cross, as bytecode for the unix port (x64) and with
native code for the boards' architectures (ESP32-S3: xtensawin, RP2040: armv6m); the compiled
x64 modules load and run under the unix port within a small heap."""
import json
import subprocess

import pytest

from straja.mp import mpy_cross_command, run_micropython
from straja.paths import FIRMWARE, REPO

HELPERS = REPO / "tests" / "firmware_app"
SOURCES = sorted(p for p in FIRMWARE.rglob("*.py"))


def compile_tree(arch, out):
    """Compile every firmware module into `out` (same layout); returns the total .mpy bytes."""
    total = 0
    for src in SOURCES:
        rel = src.relative_to(FIRMWARE)
        dst = (out / rel).with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([mpy_cross_command(), "-march=" + arch, "-s", str(rel), "-o", str(dst),
                            str(src)], capture_output=True, text=True)
        assert r.returncode == 0, "%s (%s): %s" % (rel, arch, r.stderr)
        total += dst.stat().st_size
    return total


@pytest.mark.parametrize("arch", ["x64", "xtensawin", "armv6m"])
def test_every_module_compiles(tmp_path, arch):
    assert {"app.py", "scheduler.py", "config.py", "commands.py"} <= {p.name for p in SOURCES}
    assert compile_tree(arch, tmp_path) > 10000


def test_compiled_app_runs_in_a_small_heap(tmp_path):
    compile_tree("x64", tmp_path)
    for name in ("boot.mpy", "main.mpy"):  # a board runs these two as source
        (tmp_path / name).unlink()
    # the import RAM is what a board keeps after boot; the scheduler still allocates nothing
    code = ("import gc\ngc.collect()\nbase = gc.mem_alloc()\nfrom straja_node import app\n"
            "gc.collect()\nimport json\nprint(json.dumps(gc.mem_alloc() - base))")
    ram = json.loads(run_micropython(code, path=[tmp_path], heap="256K").stdout)
    assert 0 < ram < 48 * 1024
    out = run_micropython(HELPERS / "alloc_check.py", args=["30"], path=[tmp_path, HELPERS],
                          heap="256K").stdout
    got = json.loads(out)
    assert got["grown"] == 0 and got["locked_ok"]
    assert all(p.suffix == ".mpy" for p in (tmp_path / "straja_node").iterdir() if p.is_file())
