"""Where a virtual node's late steps come from (issue 20): a fleet on a scene, each node running
bench/overrun_probe_node.py as its main.py (the application with its loop's parts timed), each
board's requests timed in its process, for a while; then per node its overruns a second and its
late steps by cause, and per board its slow answers by cause.

    .venv/bin/python bench/overrun_probe.py [--nodes 1] [--seconds 20] [--focus]

`--floor S` first runs, for S seconds, a MicroPython process that only sleeps as a node does
(bench/overrun_probe_floor.py: its timer slack, priority and CPU) and prints its late wake-ups a
second: the machine's floor (a CPU the host or another task took, an interrupt); a stall longer
than a dwell's ~500 us margin makes each reading then under way late. `--seconds 0` stops there. `--focus` sends the gateway's focus plan refresh
(a temporary plan, every 5 s) to every node.
With `--rt N` the nodes' interpreters and boards run at real-time priority N, above the
machine's other load and this process (run as root): a node's own causes without theirs. (The
whole tool under `chrt -r` puts its own Python threads, the bridges' and the frame readers', at
the nodes' priority, taking turns with them in 100 ms round-robin slices.) `--unpaired` lets a
node's interpreter and board run on any CPU (the fleet puts them on one while each node has a
CPU of its own), `--paired` puts each node's two on one CPU, round the CPUs, with more nodes
than CPUs too (two pairs sharing one), `--apart` each node's interpreter and board on two CPUs,
`--profile-board`
prints where each board's CPU goes, `--plain` leaves the probes out (their CPU with them). A
measuring tool, not a test: its figures depend on the machine.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

from straja.argtypes import non_negative_float, positive_int
from straja import protocol
from straja.link import NodeLink
from straja.mp import micropython_command
from straja.vboard import server
from straja.vnode import fleet as fleet_module
from straja.vnode.bridge import new_session, precise_sleeps
from straja.vnode.cli import start_fleet

NODE_MAIN = Path(__file__).with_name("overrun_probe_node.py")
FLOOR_MAIN = Path(__file__).with_name("overrun_probe_floor.py")
FLOOR_PERIOD_US = 230  # a streaming node sleeps ~4 400 times a second
SLOW_S = 300e-6  # a board answer this slow eats most of a dwell's margin
FOCUS_EVERY_S = 5.0


def cpu_s(pid: int) -> tuple[float, float]:
    """CPU time process `pid` used so far, (user, system), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def bus_counts(board) -> tuple[int, int]:
    """A board's requests and round trips served so far (its counters, in shared memory)."""
    return board.transactions, board.round_trips


def floor(seconds: float, rt: int) -> dict:
    """The machine's floor: bench/overrun_probe_floor.py under MicroPython, a process that only
    sleeps, started as a fleet starts a node's interpreter (its own session, 1 ns timer slack, the
    CPU a fleet's first node gets; at real-time priority `rt` if given), and its late wake-ups a
    second by how late."""
    cpus = fleet_module.pair_cpus(0, 1)

    def child() -> None:
        new_session()
        precise_sleeps()
        if cpus:
            os.sched_setaffinity(0, cpus)
        if rt:
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(rt))
    out = subprocess.run([micropython_command(), str(FLOOR_MAIN), str(seconds),
                          str(FLOOR_PERIOD_US)], preexec_fn=child, capture_output=True,
                         text=True, check=True).stdout
    result = json.loads(out)
    bounds = result["buckets_us"]
    late = result["late"]
    return {"sleeps_per_s": round(result["sleeps"] / seconds),
            "late_per_s": {f"over {b} us": round(sum(late[i + 1:]) / seconds, 2)
                           for i, b in enumerate(bounds) if b >= 100},
            "load": os.getloadavg()[0]}


def probe_boards() -> None:
    """Time every board's requests (the boards fork from this process, patched): each slow one
    is counted by its cause, CPython's collector (gc.callbacks) or the request's own work
    (the scene making its next transmissions, for a reading), in <socket>.probe.json."""
    handle = server.VirtualBoard._handle
    state = {"gc_s": 0.0, "gc_began": 0.0}

    def on_gc(phase, info):
        if phase == "start":
            state["gc_began"] = time.perf_counter()
        else:
            state["gc_s"] += time.perf_counter() - state["gc_began"]

    def timed_handle(self, op, dev, payload, t):
        stats = self.__dict__.setdefault("probe", {"requests": 0, "slow": {}, "worst_ms": {},
                                                   "last_write": 0.0})
        if on_gc not in gc.callbacks:
            gc.callbacks.append(on_gc)
        gc_before = state["gc_s"]
        began = time.perf_counter()
        try:
            return handle(self, op, dev, payload, t)
        finally:
            took = time.perf_counter() - began
            stats["requests"] += 1
            if took > SLOW_S and op != server.BLOCK:  # (a block is answered when sampled)
                cause = ("Python's collector" if state["gc_s"] - gc_before > took / 2
                         else f"op {op} front end {dev}")
                stats["slow"][cause] = stats["slow"].get(cause, 0) + 1
                stats["worst_ms"][cause] = max(stats["worst_ms"].get(cause, 0.0), took * 1e3)
            if began - stats["last_write"] > 2.0:
                stats["last_write"] = began
                Path(self.socket_path + ".probe.json").write_text(json.dumps(
                    {k: v for k, v in stats.items() if k != "last_write"}))
    server.VirtualBoard._handle = timed_handle
    server.VirtualBoard._direct_handlers = lambda self: {}  # every request through timed_handle


def profile_boards() -> None:
    """cProfile every board's serving (its process), the statistics written every 2 s to
    <socket>.pstats (the board is killed, not stopped, at the end): where a board's CPU goes."""
    session = server.VirtualBoard._session

    def profiled_session(self, conn):
        profiler = cProfile.Profile()
        handle = self._handle
        written = [time.perf_counter()]

        def handle_and_dump(op, dev, payload, t):
            if time.perf_counter() - written[0] > 2.0:
                written[0] = time.perf_counter()
                profiler.dump_stats(self.socket_path + ".pstats")
                profiler.enable()  # (dump_stats disables it)
            return handle(op, dev, payload, t)
        self._handle = handle_and_dump
        profiler.enable()
        try:
            session(self, conn)
        finally:
            profiler.disable()
    server.VirtualBoard._session = profiled_session


def probe_nodes() -> None:
    """Every node's flash gets the probing main.py."""
    write_image = fleet_module.write_image

    def with_probe(flash, **kwargs):
        write_image(flash, **kwargs)
        (Path(flash) / "main.py").write_text(NODE_MAIN.read_text())
    fleet_module.write_image = with_probe


def focus_plan(plan: list) -> str:
    """The running plan with its 2.4 GHz sweep narrowed, as a focus plan narrows one front end."""
    entries = [dict(e) for e in plan]
    for e in entries:
        if e["front_end"] == "ism24" and "stop_khz" in e:
            e["stop_khz"] = e["start_khz"] + (e["stop_khz"] - e["start_khz"]) // 2
    return json.dumps(entries) + " temp=10"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=positive_int, default=1)
    p.add_argument("--seconds", type=non_negative_float, default=20.0)
    p.add_argument("--scene", default=None)
    p.add_argument("--focus", action="store_true")
    p.add_argument("--rt", type=int, default=0, metavar="PRIORITY",
                   help="run each node's interpreter and board at this real-time priority "
                        "(SCHED_RR), this process and the machine's other load below them: what "
                        "a node's own timing is when it has its CPU, as a board has")
    p.add_argument("--unpaired", action="store_true",
                   help="let each node's interpreter and board run on any CPU (a fleet puts them "
                        "on one: straja.vnode.Fleet's pair_cpus), as before that was so")
    p.add_argument("--paired", action="store_true",
                   help="put each node's interpreter and board on one CPU, the nodes round the "
                        "CPUs, however many nodes (a fleet does so only with a CPU a node)")
    p.add_argument("--apart", action="store_true",
                   help="put each node's interpreter on one CPU and its board on the next, "
                        "round the CPUs (1 node on 2 CPUs: each its own)")
    p.add_argument("--profile-board", action="store_true",
                   help="cProfile each board's process: its top functions printed at the end "
                        "(the profiler's own cost inflates the board's CPU)")
    p.add_argument("--plain", action="store_true",
                   help="no probes: the nodes' overruns a second only (the probes cost CPU)")
    p.add_argument("--floor", type=non_negative_float, default=0, metavar="SECONDS",
                   help="first, for this long, a MicroPython process that only sleeps as a node "
                        "does (its slack, priority and CPU): the machine's late wake-ups a "
                        "second, the floor under a node's overruns")
    args = p.parse_args()
    if args.floor:
        print(json.dumps({"floor": floor(args.floor, args.rt)}))
        if args.seconds <= 0:
            return 0
    if not args.plain:
        probe_boards()
        probe_nodes()
    if args.profile_board:
        profile_boards()
    _, fleet = start_fleet(args.nodes, args.scene, config={"stream_on_boot": True})
    if args.rt:
        for running in fleet.nodes:
            for pid in (running.node._proc.pid, running.board._pid):
                os.sched_setscheduler(pid, os.SCHED_RR, os.sched_param(args.rt))
    if args.unpaired or args.paired or args.apart:
        allowed = sorted(os.sched_getaffinity(0))
        for i, running in enumerate(fleet.nodes):
            for k, pid in enumerate((running.node._proc.pid, running.board._pid)):
                cpus = (allowed if args.unpaired else
                        {allowed[(i + k * args.apart) % len(allowed)]})
                os.sched_setaffinity(pid, cpus)
    links = [NodeLink(n.port) for n in fleet.nodes]
    first: dict[int, tuple[float, int]] = {}
    last: dict[int, tuple[float, int]] = {}
    # per node: (interpreter, board) process ids, their CPU time when its first STATUS came
    pids = [(n.node._proc.pid, n.board._pid) for n in fleet.nodes]
    cpu_first: dict[int, tuple[tuple[float, float], ...]] = {}
    bus_first: dict[int, tuple[int, int]] = {}  # and its board's (requests, round trips) then
    try:
        plans = [link.call("info", timeout=15)["plan"] for link in links]  # (compiling)
        t_end = time.monotonic() + args.seconds
        next_focus = time.monotonic()
        while time.monotonic() < t_end:
            if args.focus and time.monotonic() >= next_focus:
                next_focus += FOCUS_EVERY_S
                for link, plan in zip(links, plans):
                    link.call("plan", focus_plan(plan))
            for i, link in enumerate(links):
                try:
                    for f in link.frames(1, timeout=0.3, types=(protocol.STATUS,)):
                        if i not in first:
                            cpu_first[i] = tuple(cpu_s(pid) for pid in pids[i])
                            bus_first[i] = bus_counts(fleet.nodes[i].board)
                        first.setdefault(i, (time.monotonic(), f.body.overruns))
                        last[i] = (time.monotonic(), f.body.overruns)
                except TimeoutError:
                    pass
        cpu_last = {i: (time.monotonic(), [cpu_s(pid) for pid in pids[i]]) for i in first}
        bus_last = {i: bus_counts(fleet.nodes[i].board) for i in first}
        time.sleep(2.5)  # a last report from every node and board
        for i, running in enumerate(fleet.nodes):
            node_file = running.node.flash_dir / "probe.json"
            node = json.loads(node_file.read_text()) if node_file.exists() else {}
            span = last[i][0] - first[i][0]
            rate = (last[i][1] - first[i][1]) / span if span > 0 else float("nan")
            board_file = Path(running.board.socket_path + ".probe.json")
            board = json.loads(board_file.read_text()) if board_file.exists() else {}
            t_cpu, cpu = cpu_last[i]
            share = [{"user": round((c[0] - c0[0]) / (t_cpu - first[i][0]), 3),
                      "system": round((c[1] - c0[1]) / (t_cpu - first[i][0]), 3)}
                     for c, c0 in zip(cpu, cpu_first[i])]
            span_cpu = t_cpu - first[i][0]
            requests, round_trips = (round((b - b0) / span_cpu)
                                     for b, b0 in zip(bus_last[i], bus_first[i]))
            print(json.dumps({"node": running.spec.name, "overruns_per_s": round(rate, 1),
                              "cpu_per_s": {"interpreter": share[0], "board": share[1]},
                              "board_requests_per_s": requests,
                              "board_round_trips_per_s": round_trips,
                              "load": os.getloadavg()[0], "node_probe": node,
                              "board_probe": board}, indent=1))
            stats = Path(running.board.socket_path + ".pstats")
            if args.profile_board and stats.exists():
                pstats.Stats(str(stats)).sort_stats("tottime").print_stats(25)
    finally:
        for link in links:
            link.close()
        fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
