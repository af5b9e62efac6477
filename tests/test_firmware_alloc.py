"""The scan scheduler allocates nothing per sweep or block (MicroPython unix port, fake front
ends): gc.mem_alloc() does not grow over many steps with the collector off, and the same steps
run with the heap locked (any allocation would raise MemoryError)."""
import json

from straja.mp import run_micropython
from straja.paths import FIRMWARE, REPO

HELPERS = REPO / "tests" / "firmware_app"


def test_scheduler_steady_state_allocates_nothing():
    steps = 150
    out = run_micropython(HELPERS / "alloc_check.py", args=[str(steps)],
                          path=[FIRMWARE, HELPERS], heap="256K").stdout
    got = json.loads(out)
    assert got["grown"] == 0, got
    assert got["locked_ok"], got
    # every step sent its frame: 2 * steps (unlocked, then locked), one frame each
    assert got["frames"] == 2 * steps + 6
    assert got["bytes"] > got["frames"] * 40
