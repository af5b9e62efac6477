"""Virtual time for the firmware's code on CPython (straja_node.clock imports it where `time` has
no ticks): an integer count of microseconds that only `set_virtual_us` and the sleeps move, so a
driver's sleeps cost nothing and the host decides what time it is. Ticks never wrap. Never
imported on a board."""

_now_us = 0


def set_virtual_us(us):
    """Set the virtual time: the instant the caller's model has reached."""
    global _now_us
    _now_us = us


def ticks_us():
    return _now_us


def ticks_ms():
    return _now_us // 1000


def ticks_add(ticks, delta):
    return ticks + delta


def ticks_diff(a, b):
    return a - b


def sleep_us(us):
    set_virtual_us(_now_us + us)


def sleep_ms(ms):
    set_virtual_us(_now_us + 1000 * ms)
