"""Virtual time for the firmware's code on CPython (straja_node.clock imports it where `time` has
no ticks): an integer count of microseconds that only `set_virtual_us` and the sleeps move, so a
driver's sleeps cost nothing and the host decides what time it is. Ticks never wrap. Never
imported on a board."""

now_us = 0  # read it as hosttime.now_us (a from-import would copy the value)


def set_virtual_us(us):
    """Set the virtual time: the instant the caller's model has reached."""
    global now_us
    now_us = us


def ticks_us():
    return now_us


def ticks_ms():
    return now_us // 1000


def ticks_add(ticks, delta):
    return ticks + delta


def ticks_diff(a, b):
    return a - b


def sleep_us(us):
    set_virtual_us(now_us + us)


def sleep_ms(ms):
    set_virtual_us(now_us + 1000 * ms)
