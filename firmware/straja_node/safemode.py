"""Safe mode: skip the application and stay at the REPL, so a person can repair the node.

boot.py calls `check()`. Safe mode is entered when the board's safe pin is held low at boot, when
the flag file `safemode` exists, or when the last `crash_limit` runs of the app each crashed
within `crash_window_s` seconds of boot (a crash loop: the watchdog resets a crashed node, which
crashes again). A watchdog reset counts as a crash of the run it ended: a hung app that the
watchdog resets over and over is a crash loop too. The node then says why on the serial link: a plain text line, a LOG frame and a
STATUS frame with mode 2. docs/firmware.md tells how to recover a node.
"""
import gc
import sys
from time import ticks_diff, ticks_ms

from . import VERSION, config, state
from .wire import LOG_ERROR, MODE_SAFE, RESET_WATCHDOG

FLAG = "safemode"

reason = None  # why this boot is in safe mode (None: normal boot); main.py reads it
_boot_ms = ticks_ms()


def uptime_s():
    """Seconds since boot.py ran (for crash records, which only care about the first minutes)."""
    return ticks_diff(ticks_ms(), _boot_ms) // 1000


def _flag_set():
    try:
        open(FLAG).close()
        return True
    except OSError:
        return False


def decide(hw, cfg, st):
    """The reason to enter safe mode, or None."""
    if hw.safe_pin_low():
        return "safe pin held low"
    if _flag_set():
        return "flag file '%s' present" % FLAG
    if state.crash_loop(st, cfg["crash_limit"], cfg["crash_window_s"]):
        return "crash loop: %d crashes within %d s of boot" % (
            cfg["crash_limit"], cfg["crash_window_s"])
    return None


def _say(why):
    print("straja: SAFE MODE (%s); application not started, see docs/firmware.md" % why)


def announce(why, hw, st, cfg, write):
    from .clock import Clock
    from .frame import FrameWriter

    _say(why)
    w = FrameWriter(write, Clock(), cfg["node_id"])
    # STATUS first: it is how a host tells a restart from lost frames (docs/protocol.md).
    w.status(0, st["boot_count"], hw.reset_cause(), MODE_SAFE, gc.mem_free(), gc.mem_alloc(), 0, 0,
             config.checksum(cfg), 0, VERSION)
    w.log(LOG_ERROR, "safe mode: " + why)


def check(hw=None, write=None):
    """Count this boot and decide on safe mode; sets and returns `reason`. An error of the
    check itself (no board.json, a damaged file) is a reason too: the node stays at its REPL,
    reachable, instead of crashing before the app and its watchdog exist."""
    global reason
    try:
        if hw is None:
            from . import hw
        st = state.count_boot()
        if hw.reset_cause() == RESET_WATCHDOG:
            # the hung run's uptime is unknown: count it as early, as a run that lasted
            # crash_window_s would have cleared the crashes before it hung
            state.record_crash(0)
            st = state.load()
        cfg = config.load()[0]
        reason = decide(hw, cfg, st)
    except Exception as e:
        reason = "boot check failed: %s: %s" % (type(e).__name__, e)
        _say(reason)
        return reason
    if reason is not None:
        if st["crashes"]:
            # the next reset tries the app again: a person has had the chance to fix it
            state.clear_crashes()
        announce(reason, hw, st, cfg, write or sys.stdout.buffer.write)
    return reason


def clear():
    """Leave safe mode at the next reset: remove the flag file and forget recorded crashes."""
    try:
        import os

        os.remove(FLAG)
    except OSError:
        pass
    state.clear_crashes()
