# The virtual node's main.py under bench/overrun_probe.py (MicroPython unix port): the node
# application as main.py runs it, with its loop's parts timed, to attribute each late step.
#
# A step is late when it starts more than LATE_US after it was due. What held the CPU over
# [due, start] is its cause: of the loop's parts that ran in that interval (other front ends'
# steps, reading commands, the status and heartbeat, the Bluetooth poll, the Remote ID frames),
# the kind that took most of it when it took over half; "several kinds" when together they did;
# else "woke late" (the sleep before the step ended late: the node did not get a CPU). A round
# trip to the virtual board slower than LATE_US inside a step makes the step's cause "board
# answer". Every REPORT_S the counts go to probe.json in the flash (the host's folder), which
# the host tool reads.
import gc
import json
from time import ticks_diff, ticks_ms, ticks_us

from straja_node import app as node_app
from straja_node import hw

LATE_US = 300  # late enough to eat most of a default dwell's 500 us margin (plan.READ_US)
REPORT_S = 2
RING = 128  # the loop's last parts: what ran before a late step (many loop turns)
# the kinds of the loop's parts
KINDS = ("front end steps", "board answer", "command input", "tick (status, temporary plan)",
         "Bluetooth poll", "Remote ID frames", "probe report")
STEP, BOARD, COMMAND, TICK, BLUETOOTH, REMOTE_ID, REPORT = range(len(KINDS))


class Probe:
    """Allocates nothing per step (the collector would run, and be the cause it measures): the
    parts are kept in preallocated lists, their kinds as numbers."""

    def __init__(self):
        self.kinds = [0] * RING  # the loop's last parts: their kind, beginning and end
        self.began = [0] * RING
        self.ended = [0] * RING
        self.k = 0
        self.held = [0] * len(KINDS)  # per kind, its time in a late step's delay
        self.steps = 0
        self.late = 0
        self.causes = {}
        self.delay_us = {}  # cause -> its late steps' delays, summed (us)
        self.round_trips = 0
        self.slow_round_trips = 0  # answers later than LATE_US
        self.collections = 0  # gc.collect() calls by the app (its planned collections)

    def part(self, kind, began, ended):
        k = self.k
        self.kinds[k] = kind
        self.began[k] = began
        self.ended[k] = ended
        self.k = (k + 1) % RING

    def timed(self, kind, fn):
        def wrapper():
            began = ticks_us()
            fn()
            self.part(kind, began, ticks_us())
        return wrapper

    def timed1(self, kind, fn):
        def wrapper(arg):
            began = ticks_us()
            fn(arg)
            self.part(kind, began, ticks_us())
        return wrapper

    def step_late(self, due, start):
        self.steps += 1
        delay = ticks_diff(start, due)
        if delay <= LATE_US:
            return
        self.late += 1
        held = self.held
        for i in range(len(held)):
            held[i] = 0
        k = self.k
        for _ in range(RING):  # newest first, back to the last part that ended before `due`
            k = (k - 1) % RING
            began = self.began[k]
            ended = self.ended[k]
            if ticks_diff(ended, due) <= 0:
                break
            lo = began if ticks_diff(began, due) > 0 else due
            hi = ended if ticks_diff(ended, start) < 0 else start
            overlap = ticks_diff(hi, lo)
            if overlap > 0:
                held[self.kinds[k]] += overlap
        top = 0
        for i in range(len(held)):
            if held[i] > held[top]:
                top = i
        if held[BOARD] > delay // 2:
            cause = KINDS[BOARD]
        elif held[top] > delay // 2:
            cause = KINDS[top]
        elif sum(held) > delay // 2:
            cause = "several kinds"
        else:
            cause = "woke late"
        self.causes[cause] = self.causes.get(cause, 0) + 1
        self.delay_us[cause] = self.delay_us.get(cause, 0) + delay

    def write(self, app, uptime_ms):
        report = {"uptime_ms": uptime_ms, "steps": self.steps, "late": self.late,
                  "late_us": LATE_US, "causes": self.causes, "delay_us": self.delay_us,
                  "round_trips": self.round_trips, "slow_round_trips": self.slow_round_trips,
                  "overruns": app.scheduler.overruns, "collections": self.collections,
                  "mem_free": gc.mem_free(), "mem_alloc": gc.mem_alloc()}
        with open("probe.json", "w") as f:
            f.write(json.dumps(report))


def instrument(app, probe):
    sched = app.scheduler

    def wrap_tasks():
        for task in sched._tasks:
            run = task.run

            def run_task(s, now, task=task, run=run):
                probe.step_late(task.due, now)
                began = ticks_us()
                run(s, now)
                probe.part(STEP, began, ticks_us())
            task.run = run_task

    set_plan = sched.set_plan

    def set_plan_wrapped(plan, cal=None):
        set_plan(plan, cal)
        wrap_tasks()
    sched.set_plan = set_plan_wrapped
    wrap_tasks()

    class CountingGc:  # the app's `gc`, its collections counted (a built-in module is fixed)
        mem_free = staticmethod(gc.mem_free)
        mem_alloc = staticmethod(gc.mem_alloc)

        @staticmethod
        def collect():
            probe.collections += 1
            gc.collect()
    node_app.gc = CountingGc

    app._read_input = probe.timed(COMMAND, app._read_input)
    tick = probe.timed(TICK, app._tick)
    started = ticks_ms()
    last = [started]

    def tick_and_report():
        tick()
        now = ticks_ms()
        if ticks_diff(now, last[0]) >= REPORT_S * 1000:
            last[0] = now
            began = ticks_us()
            probe.write(app, ticks_diff(now, started))
            probe.part(REPORT, began, ticks_us())
    app._tick = tick_and_report
    hw.bluetooth_events = probe.timed(BLUETOOTH, hw.bluetooth_events)
    if app.remote_id:
        app.remote_id.send = probe.timed1(REMOTE_ID, app.remote_id.send)


def time_round_trips(probe):
    """Every round trip to the virtual board timed: Link.call patched in its class before the
    app makes its buses (they bind the link's call once)."""
    link_class = hw.board.Link  # (the unix port: board_unix)
    call = link_class.call

    def timed_call(link, op, dev, payload, n, rbuf=None, rn=0):
        began = ticks_us()
        value = call(link, op, dev, payload, n, rbuf, rn)
        ended = ticks_us()
        probe.round_trips += 1
        if ticks_diff(ended, began) > LATE_US:
            probe.slow_round_trips += 1
            probe.part(BOARD, began, ended)
        return value
    link_class.call = timed_call


def main():
    probe = Probe()
    time_round_trips(probe)
    app = node_app.App(hw)
    instrument(app, probe)
    app.run(watchdog=True)


main()
