# The virtual node's main.py under bench/overrun_probe.py (MicroPython unix port): the node
# application as main.py runs it, with its loop's parts timed, to attribute each late step.
#
# A step is late when it starts more than LATE_US after it was due. What held the CPU over
# [due, start] is its cause: of the loop's parts that ran in that interval (other front ends'
# steps, reading commands, the status and heartbeat, the Bluetooth poll, the Remote ID frames),
# the kind that took most of it when it took over half; "several kinds" when together they did;
# else "the loop between parts" (the loop's and the scheduler's own time; "woke late" is a
# part: the time a sleep ended after it should, the node not getting a CPU). A round
# trip to the virtual board slower than LATE_US inside a step makes the step's cause "board
# answer".
#
# An overrun (a reading that ended after its slot, the scheduler's count) is attributed over its
# slot: the time its TUNE and its READ waited past their deadlines, split by what ran then as
# above ("woke late": a sleep's overshoot; "the loop between parts": the rest, the loop's and
# scheduler's own time), and the READ's own time (its round trip): the largest is its
# cause ("collector" if MicroPython's garbage collector ran since the last overrun, seen as a
# drop of gc.mem_alloc() that no planned collection made). Each overrun's slip goes in a
# histogram, as each sleep's overshoot. Every REPORT_S the counts go to
# probe.json in the flash (the host's folder), which the host tool reads.
import gc
import json
from time import sleep_us, ticks_add, ticks_diff, ticks_ms, ticks_us

from straja_node import app as node_app
from straja_node import hw, scheduler

LATE_US = 300  # late enough to eat most of a default dwell's 500 us margin (plan.READ_US)
REPORT_S = 2
RING = 128  # the loop's last parts: what ran before a late step (many loop turns)
# the kinds of the loop's parts
KINDS = ("front end steps", "board answer", "command input", "tick (status, temporary plan)",
         "Bluetooth poll", "Remote ID frames", "probe report", "woke late")
STEP, BOARD, COMMAND, TICK, BLUETOOTH, REMOTE_ID, REPORT, WOKE_LATE = range(len(KINDS))
# an overrun's causes besides the loop's parts (a sleep's overshoot is the part "woke late")
OWN_READ, LOOP, COLLECTOR = range(len(KINDS), len(KINDS) + 3)
OVERRUN_CAUSES = KINDS + ("its own reading", "the loop between parts", "collector")
# histogram buckets (us, upper bounds; the last is open): overruns' slips, sleeps' overshoots
BUCKETS_US = (20, 50, 100, 300, 1000, 3000)
FRONT_ENDS_MAX = 8
# a sweep step's own time by its phase before it ran (a tune: START or TUNE; a reading; a frame),
# in these buckets (us): what the evaluation's fast path charges a step (eval/readings.py NODE_COST)
STEP_BUCKETS_US = (5, 10, 15, 20, 30, 50, 100, 300)
PHASES = ("tune", "tune", "reading", "frame")  # the scheduler's _START, _TUNE, _READ, _END
READ_PHASE = 2  # the scheduler's _READ (a const: compiled away, not in its module)


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
        self.overrun_causes = [0] * len(OVERRUN_CAUSES)
        self.overrun_slip_us = [0] * len(OVERRUN_CAUSES)  # per cause, its overruns' slips summed
        self.overrun_held_us = [0] * len(OVERRUN_CAUSES)  # per cause, its time in their slots
        self.slips = [0] * (len(BUCKETS_US) + 1)
        self.overshoots = [0] * (len(BUCKETS_US) + 1)
        self.sleeps = 0
        self.tune_due = [0] * FRONT_ENDS_MAX  # per front end, its last TUNE's deadline and start
        self.tune_start = [0] * FRONT_ENDS_MAX
        self.slot_held = [0] * len(OVERRUN_CAUSES)
        self.step_us = [[0] * (len(STEP_BUCKETS_US) + 1) for _ in PHASES]
        self.mem_alloc = gc.mem_alloc()
        self.auto_collections = 0  # the collector running by itself (a heap drop not planned)

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
        self.held_over(held, due, start)
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
            cause = OVERRUN_CAUSES[LOOP]
        self.causes[cause] = self.causes.get(cause, 0) + 1
        self.delay_us[cause] = self.delay_us.get(cause, 0) + delay

    def held_over(self, held, due, start):
        """Add to held[kind] each kind's time in [due, start] (the loop's parts in the ring)."""
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

    def step_took(self, phase, us):
        counts = self.step_us[phase]
        for i in range(len(STEP_BUCKETS_US)):
            if us < STEP_BUCKETS_US[i]:
                counts[i] += 1
                return
        counts[len(STEP_BUCKETS_US)] += 1

    def waited(self, held, due, start):
        """A step's wait past its deadline `due` (0 if none), its parts added to `held`."""
        wait = ticks_diff(start, due)
        if wait <= 0:
            return 0
        self.held_over(held, due, start)
        return wait

    def collected(self):
        """Whether the collector ran by itself since the last look: the heap in use dropped
        with no planned collection (gc.mem_alloc() scans the heap: looked at on an overrun and
        a report, not every step)."""
        alloc = gc.mem_alloc()
        dropped = alloc < self.mem_alloc
        self.mem_alloc = alloc
        if dropped:
            self.auto_collections += 1
        return dropped

    def overrun(self, fe, read_due, read_start, read_end, slip):
        """A reading of front end `fe` ended `slip` us after its slot: what its slot's time went
        to (its TUNE's and READ's waits past their deadlines, and the READ itself)."""
        held = self.slot_held
        for i in range(len(held)):
            held[i] = 0
        tune_due = self.tune_due[fe]
        waits = self.waited(held, tune_due, self.tune_start[fe]) + self.waited(
            held, read_due, read_start)
        parts = 0
        for i in range(len(KINDS)):
            parts += held[i]
        held[LOOP] = waits - parts if waits > parts else 0
        held[OWN_READ] = ticks_diff(read_end, read_start)
        top = 0
        for i in range(len(held)):
            if held[i] > held[top]:
                top = i
        if self.collected():
            top = COLLECTOR
        self.overrun_causes[top] += 1
        self.overrun_slip_us[top] += slip
        for i in range(len(held)):
            self.overrun_held_us[i] += held[i]
        self.slips[bucket(slip)] += 1

    def write(self, app, uptime_ms):
        self.collected()
        report = {"uptime_ms": uptime_ms, "steps": self.steps, "late": self.late,
                  "late_us": LATE_US, "causes": self.causes, "delay_us": self.delay_us,
                  "round_trips": self.round_trips, "slow_round_trips": self.slow_round_trips,
                  "overruns": app.scheduler.overruns, "collections": self.collections,
                  "mem_free": gc.mem_free(), "mem_alloc": gc.mem_alloc(),
                  "aheads_taken": hw.board.link().aheads_taken,
                  "aheads_dropped": hw.board.link().aheads_dropped,
                  "auto_collections": self.auto_collections,
                  "overrun_causes": named(OVERRUN_CAUSES, self.overrun_causes),
                  "overrun_slip_us": named(OVERRUN_CAUSES, self.overrun_slip_us),
                  "overrun_slot_time_us": named(OVERRUN_CAUSES, self.overrun_held_us),
                  "buckets_us": BUCKETS_US, "overrun_slips": self.slips,
                  "sleeps": self.sleeps, "sleep_overshoots": self.overshoots,
                  "step_buckets_us": STEP_BUCKETS_US,
                  "step_us": {"tune": [a + b for a, b in zip(self.step_us[0], self.step_us[1])],
                              "reading": self.step_us[2], "frame": self.step_us[3]}}
        with open("probe.json", "w") as f:
            f.write(json.dumps(report))


def bucket(us):
    for i in range(len(BUCKETS_US)):
        if us < BUCKETS_US[i]:
            return i
    return len(BUCKETS_US)


def named(names, counts):
    return {names[i]: counts[i] for i in range(len(names)) if counts[i]}


def instrument(app, probe):
    sched = app.scheduler

    def wrap_tasks():
        for task in sched._tasks:
            run = task.run

            def run_task(s, now, task=task, run=run):
                due = task.due
                probe.step_late(due, now)
                phase = task.phase
                moved = task.moved_us
                began = ticks_us()
                run(s, now)
                ended = ticks_us()
                probe.part(STEP, began, ended)
                probe.step_took(phase, ticks_diff(ended, began))
                if phase == READ_PHASE and task.moved_us > moved:
                    probe.overrun(task.index, due, now, ended, task.moved_us - moved)
                elif task.phase == READ_PHASE:  # it tuned: its slot began
                    probe.tune_due[task.index] = due
                    probe.tune_start[task.index] = now

            def run_block(s, now, task=task, run=run):
                probe.step_late(task.due, now)
                began = ticks_us()
                run(s, now)
                probe.part(STEP, began, ticks_us())
            if not hasattr(task, "moved_us"):  # an envelope block
                run_task = run_block
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
            probe.mem_alloc = gc.mem_alloc()  # planned: not the collector's own
    node_app.gc = CountingGc

    def timed_sleep(us):
        began = ticks_us()
        sleep_us(us)
        ended = ticks_us()
        over = ticks_diff(ended, began) - us
        probe.sleeps += 1
        probe.overshoots[bucket(over)] += 1
        if over > 0:
            probe.part(WOKE_LATE, ticks_add(ended, -over), ended)
    scheduler.sleep_us = timed_sleep  # (the scheduler's waits look the name up when they run)

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
            gc.collect()  # the report's garbage (JSON, the file): not left for the collector
            probe.mem_alloc = gc.mem_alloc()
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
