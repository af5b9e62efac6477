"""The node application: command input, scan scheduler, heartbeats, watchdog (docs/firmware.md).

One loop, never blocking for more than ~20 ms, so Ctrl-C (KeyboardInterrupt, which this module
never catches) ends it promptly from any state and the board returns to its REPL. The hardware
layer, the frame output and the command input are parameters, so tests run the app under the
MicroPython unix port with fakes.
"""
import gc
import select
import sys
from time import sleep_ms, ticks_add, ticks_diff, ticks_ms, ticks_us

from . import VERSION, commands, config, state
from .clock import Clock
from .plan import scanning
from .cmdline import LineReader
from .frame import FrameWriter
from .remoteid import Receiver
from .scheduler import Scheduler
from .wire import LOG_INFO, LOG_WARNING, MODE_IDLE, MODE_STREAMING, TOO_LONG

IDLE_MS = 10  # loop pause while not streaming: command latency and Ctrl-C response
INPUT_BURST = 2048  # bytes read per loop turn: two full command lines
# While streaming the loop turns once per step (thousands a second): its chores (the command
# input, the watchdog, uptime and STATUS, a temporary plan's end, Remote ID) are done at most
# this often, not on every turn: a look at the input is a system call on a virtual node (a UART
# read on a board), and together they cost more interpreter time than the step itself. At most
# this much more command latency; Ctrl-C does not wait for it (an interrupt, not an input read).
CHORES_MS = 5


class App:
    """The running node. `hw`: the hardware layer (straja_node.hw or a fake with its functions);
    `write(buf, n)`: where frames go (default sys.stdout.buffer.write); `stdin`: the command
    input, a pollable stream with `.buffer.readinto` (default sys.stdin)."""

    def __init__(self, hw, write=None, stdin=None):
        self.hw = hw
        self.clock = Clock()
        self.config, self.config_error = config.load()
        self.writer = FrameWriter(write or sys.stdout.buffer.write, self.clock,
                                  self.config["node_id"])
        self.boot_count = state.load()["boot_count"]
        self.reset_cause = hw.reset_cause()
        self.front_ends = hw.front_ends(self.config)
        self.scheduler = Scheduler(self.front_ends, self.writer, self.clock, hw.idle)
        ble = hw.bluetooth()  # None: a board without Bluetooth hears no Remote ID
        self.remote_id = Receiver(ble, self.writer, self.clock) if ble else None
        self.temp_plan = None  # a temporary plan's entries while one runs (set_temp_plan)
        self._temp_end_ms = ticks_ms()
        self._use_stored_plan()
        self.config_hash = config.checksum(self.config)
        self.streaming = self.config["stream_on_boot"]
        self.reboot_pending = False
        self.uptime_s = 0
        self._ms = 0
        self._last_ms = ticks_ms()
        self._status_ms = self._last_ms
        self._crashes_cleared = False
        self.reader = LineReader()
        self._stdin = stdin or sys.stdin
        self._byte = bytearray(1)
        self._replies = []  # the replies of an input burst's commands, sent after it
        self._poll = select.poll()
        self._poll.register(self._stdin, select.POLLIN)
        self._chores_ms = ticks_add(ticks_ms(), -CHORES_MS)  # the first loop turn does them

    def _use_stored_plan(self):
        try:
            self.scheduler.set_plan(self.config["plan"], self.config["cal"])
        except ValueError as e:
            self.config_error = "stored plan does not fit this board, using the default: %s" % e
            self.scheduler.set_plan([])
        self.temp_plan = None

    # -- commands' view of the node

    def temp_plan_left_s(self):
        """Seconds until a temporary plan ends (0: none runs)."""
        if self.temp_plan is None:
            return 0
        return max(0, (ticks_diff(self._temp_end_ms, ticks_ms()) + 999) // 1000)

    def info(self):
        reply = scanning(self.front_ends, self.scheduler.plan, self.temp_plan_left_s())
        reply.update({
            "version": VERSION,
            "board": self.hw.profile().get("name", "unknown"),
            "node_id": self.config["node_id"],
            "boot_count": self.boot_count,
            "reset_cause": self.reset_cause,
            "uptime_s": self.uptime_s,
            "config_hash": self.config_hash,
            "config_error": self.config_error,
            "streaming": self.streaming,
            "overruns": self.scheduler.overruns,
            # per plan entry, since the plan was set: which front end cannot keep its dwell
            "plan_overruns": self.scheduler.entry_overruns(),
            "commands_bad": self.reader.lines_bad,
            "frames_dropped": self.writer.frames_dropped,
            "remote_id": ({"heard": self.remote_id.heard, "dropped": self.remote_id.dropped}
                          if self.remote_id else None),
        })
        return reply

    def apply_config(self, cfg, end_temp=False):
        """Validate `cfg`, rebuild the plan if it changed (or `end_temp` and a temporary plan
        runs), write it atomically, use it. A rebuilt plan ends a temporary plan.

        Raises ValueError (nothing changed) or OSError (the flash write failed: the old config
        and plan stay in use)."""
        cfg = config.validate(cfg)
        names = [fe.name for fe in self.scheduler.front_ends]
        for name in cfg["cal"]:  # (config.validate knows no board: the names are checked here)
            if name not in names:
                raise ValueError("cal: no front end %s on this board (%s)"
                                 % (name, ", ".join(names)))
        old = self.config
        running = self.scheduler.plan
        replan = (cfg["plan"] != old["plan"] or cfg["cal"] != old["cal"]
                  or (end_temp and self.temp_plan is not None))
        if replan:
            self.scheduler.set_plan(cfg["plan"], cfg["cal"])
        try:
            config.save(cfg)
        except OSError:
            if replan:
                self.scheduler.set_plan(running, old["cal"])
            raise
        if replan:
            self.temp_plan = None
        self.config = cfg
        self.config_error = None
        self.config_hash = config.checksum(cfg)
        self.writer.node_id = cfg["node_id"]
        return cfg

    def set_temp_plan(self, entries, seconds):
        """Run `entries` instead of the stored plan for `seconds`, without writing the flash;
        the same plan again only moves the end (a host refreshes a focus plan so). Raises
        ValueError (nothing changed)."""
        if self.temp_plan != entries:
            cfg = dict(self.config)
            cfg["plan"] = entries
            self.scheduler.set_plan(config.validate(cfg)["plan"], self.config["cal"])
            self.temp_plan = entries
        self._temp_end_ms = ticks_add(ticks_ms(), seconds * 1000)

    def start(self):
        if not self.front_ends:
            raise OSError("this board has no front ends")
        if not self.streaming:
            self.scheduler.restart()  # a stop may have left sweeps half done
        self.streaming = True

    # -- the loop

    def _readable(self):
        for _obj, ev in self._poll.ipoll(0):
            if ev & select.POLLIN:
                return True
            self._close_input()  # hang-up or error without data
        return False

    def _close_input(self):
        """End of input (a closed pipe in tests): stop polling a descriptor that stays ready."""
        self._poll.unregister(self._stdin)

    def _read_input(self):
        """Feed the bytes waiting on the command input to the line reader, a burst at a time;
        nothing after a `reboot` (its reply is the last thing this run says, as on a board that
        resets at once: a command sent after it is answered by the next run). Serving commands
        is planned work: one collection for the burst, before its replies are sent, so a host
        that waits for a reply (and then perhaps sends Ctrl-C) never interrupts the collection.
        On the unix port (a virtual node) Ctrl-C raises KeyboardInterrupt from a signal handler,
        inside whatever C code runs, and one raised inside a collection leaves the heap locked
        for good; on a board it waits for the next bytecode."""
        began = ticks_us()
        replies = self._replies
        for _ in range(INPUT_BURST):
            if self.reboot_pending or not self._readable():
                break
            if not self._stdin.buffer.readinto(self._byte, 1):
                self._close_input()
                break
            self._serve_lines(replies)
        if replies:
            self._planned_work_done(began, replies)
            replies.clear()

    def _serve_lines(self, replies):
        """Serve the lines this byte completes, their replies added to `replies`."""
        for rid, verb, args in self.reader.feed(self._byte, 1):
            if verb is None:  # args is the error status of a malformed line
                status = args
                why = "line too long" if status == TOO_LONG else "bad line"
                text = '{"error": "%s"}' % why
            else:
                status, text = commands.run(self, verb, args)
            replies.append((rid, status, text))

    def _planned_work_done(self, began, replies=()):
        """After work that allocates (commands served, whose `replies` are sent here; a temporary
        plan's end), begun at ticks_us() `began`. Nothing else allocates while scanning, so its
        garbage is collected now rather than by the collector when the heap fills, in the middle
        of a later dwell (and before the replies: _read_input); and as for an envelope block,
        the sweeps move on by the time taken (the work, the collection, the replies) instead of
        overrunning."""
        gc.collect()
        for rid, status, text in replies:
            self.writer.reply(rid, status, text)
        self.scheduler.pause(ticks_diff(ticks_us(), began))

    def _tick(self):
        """Advance uptime; send a STATUS frame when one is due; forget crashes after a clean run."""
        now = ticks_ms()
        self._ms += ticks_diff(now, self._last_ms)
        self._last_ms = now
        while self._ms >= 1000:
            self._ms -= 1000
            self.uptime_s += 1
        period = self.config["heartbeat_ms"] if self.streaming else config.IDLE_HEARTBEAT_MS
        if ticks_diff(now, self._status_ms) >= period:
            self._status_ms = now
            self.send_status()
        if self.temp_plan is not None and ticks_diff(now, self._temp_end_ms) >= 0:
            # not refreshed: the host that set it is gone, the node scans as stored
            began = ticks_us()
            self._use_stored_plan()
            self.writer.log(LOG_INFO, "temporary plan ended, back to the stored plan")
            self._planned_work_done(began)
        if not self._crashes_cleared and self.uptime_s > self.config["crash_window_s"]:
            self._crashes_cleared = True
            state.clear_crashes()

    def send_status(self):
        w = self.writer
        w.status(self.uptime_s, self.boot_count, self.reset_cause,
                 MODE_STREAMING if self.streaming else MODE_IDLE, gc.mem_free(), gc.mem_alloc(),
                 self.scheduler.overruns, w.frames_dropped, self.config_hash, self.reader.lines_bad,
                 VERSION)

    def run(self, watchdog=False):
        """The main loop; returns only through an exception (KeyboardInterrupt from Ctrl-C) or a
        reset. `watchdog`: start the hardware watchdog (main.py does; a run started by hand
        at the REPL does not, as a board's watchdog cannot be stopped again)."""
        ms = self.config["watchdog_ms"]
        wdt = self.hw.watchdog(ms) if watchdog and ms else None
        # STATUS first: it is how a host tells a restart from lost frames (docs/protocol.md).
        self.send_status()
        self._status_ms = ticks_ms()
        self.writer.log(LOG_INFO, "straja node %s up, boot %d, reset cause %d" % (
            VERSION, self.boot_count, self.reset_cause))
        if self.config_error:
            self.writer.log(LOG_WARNING, self.config_error)
        try:
            while True:
                now = ticks_ms()
                if ticks_diff(now, self._chores_ms) >= CHORES_MS:  # every turn when idle
                    self._chores_ms = now
                    if wdt:
                        wdt.feed()
                    self._read_input()
                    if self.reboot_pending:
                        self.hw.reset()
                    self._tick()
                    if self.remote_id:
                        self.hw.bluetooth_events()
                        self.remote_id.send(self.streaming)
                if not (self.streaming and self.scheduler.step()):
                    sleep_ms(IDLE_MS)
        except KeyboardInterrupt:
            # Ctrl-C: a person (or a deploy) wants the REPL, which must not be reset under them.
            # A crash keeps the watchdog hungry, so an unattended node resets and recovers.
            if wdt:
                wdt.release()
            raise


def main(hw=None, write=None):
    """Start the application as main.py does: with the watchdog, on the board's hardware."""
    if hw is None:
        from . import hw
    App(hw, write).run(watchdog=True)
