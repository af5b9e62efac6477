"""Boot count and recent crashes, kept in `state.json` (written atomically like the config).

`crashes` holds the uptimes (s) of the crashes since the app last ran cleanly for a while; the
safe-mode rule in boot.py reads it.
"""
from . import store

PATH = "state.json"
KEEP = 20  # crashes remembered: more than the largest crash_limit


def load(path=PATH):
    try:
        s = store.load(path)
    except (OSError, ValueError):
        s = None
    if type(s) is not dict:
        s = {}
    n = s.get("boot_count", 0)
    crashes = s.get("crashes", [])
    if type(n) is not int or n < 0:
        n = 0
    if type(crashes) is not list:
        crashes = []
    return {"boot_count": n, "crashes": [c for c in crashes if type(c) is int][-KEEP:]}


def save(s, path=PATH):
    store.write_atomic(path, '{"boot_count":%d,"crashes":[%s]}' % (
        s["boot_count"], ",".join(str(c) for c in s["crashes"][-KEEP:])))


def count_boot(path=PATH):
    """Add one to the boot count; returns the state."""
    s = load(path)
    s["boot_count"] = (s["boot_count"] + 1) & 0xFFFF
    save(s, path)
    return s


def record_crash(uptime_s, path=PATH):
    s = load(path)
    s["crashes"].append(uptime_s)
    save(s, path)


def clear_crashes(path=PATH):
    s = load(path)
    if s["crashes"]:
        s["crashes"] = []
        save(s, path)


def crash_loop(s, limit, window_s):
    """True if the last `limit` runs all crashed within `window_s` seconds of boot."""
    c = s["crashes"]
    if len(c) < limit:
        return False
    for t in c[-limit:]:
        if t > window_s:
            return False
    return True
