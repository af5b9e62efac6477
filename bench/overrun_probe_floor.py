# The machine's floor under bench/overrun_probe.py --floor (MicroPython unix port): a loop that
# only sleeps, as the node's scheduler does (sleep_us towards a deadline, no spin), to
# deadlines PERIOD_US apart, with the node's timer slack, priority and CPU. Its late wake-ups are
# the kernel's and the virtual machine's (a CPU descheduled by the host, an interrupt), none of a
# node's own work: a node overruns at least when such a wake-up eats a dwell's margin.
# Prints one JSON line: sleeps, and per bucket (us, upper bounds; the last is open) how many
# ended that late.
import json
import sys
from time import sleep_us, ticks_add, ticks_diff, ticks_us

BUCKETS_US = (20, 50, 100, 300, 500, 1000, 3000)  # (the node probe's, with a dwell's margin)


def main(seconds, period_us):
    late = [0] * (len(BUCKETS_US) + 1)
    start = ticks_us()
    due = start
    sleeps = 0
    while ticks_diff(due, start) < seconds * 1000000:
        due = ticks_add(due, period_us)
        left = ticks_diff(due, ticks_us())
        if left > 0:
            sleep_us(left)
        now = ticks_us()
        over = ticks_diff(now, due)
        k = 0
        while k < len(BUCKETS_US) and over >= BUCKETS_US[k]:
            k += 1
        late[k] += 1
        sleeps += 1
        if over > 0:
            due = now  # the next deadline from here, as the scheduler's slots move on
    print(json.dumps({"seconds": seconds, "period_us": period_us, "sleeps": sleeps,
                      "buckets_us": BUCKETS_US, "late": late}))


main(float(sys.argv[1]), int(sys.argv[2]))
