"""The scan scheduler allocates nothing per step (tune, reading, frame, block, with a plain and
a revisit sweep; MicroPython unix port, fake front ends): gc.mem_alloc() does not grow over many steps with the collector off, and
as many more steps run with the heap locked (any allocation would raise MemoryError)."""
import json

from straja.mp import run_micropython
from straja.paths import FIRMWARE, REPO

HELPERS = REPO / "tests" / "firmware_app"


def test_scheduler_steady_state_allocates_nothing():
    frames = 60
    out = run_micropython(HELPERS / "alloc_check.py", args=[str(frames)],
                          path=[FIRMWARE, HELPERS], heap="256K").stdout
    got = json.loads(out)
    assert got["grown"] == 0, got
    assert got["locked_ok"], got
    # warm-up, then `frames` frames unlocked and as many locked, every step of their sweeps
    # and blocks (tunes, readings, frames) run in between
    assert got["frames"] == 2 * frames + 6
    assert got["bytes"] > got["frames"] * 40
