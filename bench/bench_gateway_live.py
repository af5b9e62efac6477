"""Gateway latency with 16 virtual nodes streaming: the real firmware under MicroPython on 16
pseudo-terminals, watching the demo scene (an FPV drone flying in) from a 4 x 4 grid of masts,
and the real gateway reading all 16 ports (its rounds of reads, compiled decoder, detection
core, fusion, alerts, SQLite). Latency: from the moment a round of reads took a chunk of bytes
off its port to the moment the alert events that chunk caused were committed to SQLite. CPU: the
gateway process's own (the nodes run in another process, as nodes are other devices), of the
steady state: from WARM_S seconds after the first chunk (the connects before it are a one-off
cost, printed apart), and the same calls replayed at once through a fresh gateway. The fleet
(its process, the virtual boards and the MicroPython interpreters it starts) runs at nice
FLEET_NICE: on the shared cores the gateway is served first, as it would be on its own Pi, so
what is measured is the gateway's latency, not the fleet's competition for the CPU.
Run: .venv/bin/python bench/bench_gateway_live.py [--seconds 60] [--nodes 16 [64 128]]
[--fleet-nice 19] [--apart] [--noise [--writers N]]
(--fleet-nice: on a machine whose other jobs leave a fleet at nice 19 starved, a lower nice that
still ranks the fleet after the gateway; the frames a node-second it prints tell a starved fleet.
--apart: the gateway on the first CPU alone and the fleet on the others, as a gateway whose nodes
are other devices runs: no interpreter or board between its chunks to take its caches.
--noise: no virtual nodes but pi_check.py's noise streams written at the default plan's times
(`NoiseWriter`, each node its own pty; --writers processes, default one a NODES_A_WRITER nodes:
how late they wrote is printed): the gateway's cost a chunk at the plan's frame rate, which 16
interpreters do not keep on a loaded machine, and at the node counts of a Pi's target (100 and
more: the chunks a round, and so the caches' cost a chunk, follow the count); no emitters, so no
alerts)
"""
from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

from straja.gateway import config, ingest
from straja.gateway.events import AlertEvent
from straja.gateway.ingest import Gateway
from straja.gateway.pipeline import Pipeline
from straja.gateway.store import Store
from straja.paths import SCENES
from straja.testing.synth import merge

FLEET_NICE = 19
# the noise writers' nice: after the gateway, but kept on time on a shared machine (at 19 they
# lagged 25 ms p50, 0.9 s p99 at load 18 and bunched the frames a round reads: not the plan's
# timing); their CPU is a few % of a core, on other CPUs than the gateway's with --apart
NOISE_NICE = 1
# seconds of the run before its steady state (mark_steady): the nodes' connects (a virtual node
# answers the hello within a second or two of boot) and their first cores
WARM_S = 5.0
# noise streams a writer process (NoiseWriter): at 128 nodes, load 16, one wrote its frames
# 3.2 ms late p50 (11.9 p99), two 1.7 ms (10.1) (docs/benchmarks.md, "The live check at 16, 64
# and 128 nodes")
NODES_A_WRITER = 64


def grid_scene(nodes: int, folder: Path) -> Path:
    """The demo scene with its three nodes replaced by a square grid of `nodes` masts."""
    scene = tomllib.loads((SCENES / "demo_incursion.toml").read_text())
    template = tomllib.loads((SCENES / "quiet_rural.toml").read_text())
    side = int(np.ceil(np.sqrt(nodes)))
    scene["scene"]["include"] = []
    scene["propagation"] = template["propagation"]
    scene["node"] = []
    for i in range(nodes):
        node = copy.deepcopy(template["node"][0])
        node["name"] = f"m{i + 1}"
        node["position_m"] = [300.0 * (i % side), 300.0 * (i // side), 3.0]
        scene["node"].append(node)
    path = folder / "grid.json"
    path.write_text(json.dumps(scene))
    return path


def time_every_chunk(gateway, calls: list, round_began: list
                     ) -> tuple[list[int], list[tuple[int, int, int]]]:
    """Latency of every chunk of bytes, not only of those that raise alerts (there are few); and
    for the alert chunks, (waited in the queue, handled: wall, and the CPU of its round up to
    its end: its reads and the chunks before it included, an upper bound on its own), ns: where
    the time went. Every call of the gateway's handle is kept in `calls`, to be replayed
    (replayed_cpu_s). `round_began` is time_rounds' [index, thread CPU s] of the round's start.
    The thread's CPU clock is read a round, not a chunk: it is a system call (no vDSO for
    CLOCK_THREAD_CPUTIME_ID: 1.7 µs here), and one a chunk took 3.3 % of the live thread's
    samples at 128 nodes (docs/benchmarks.md, "The live path's cost a chunk (perf6)")."""
    latencies: list[int] = []
    alert_parts: list[tuple[int, int, int]] = []
    handle = gateway.handle

    def timed(kind, path, t_ns, data):
        calls.append((kind, path, t_ns, data))
        start = time.time_ns()
        out = handle(kind, path, t_ns, data)
        if kind == "data":
            end = time.time_ns()
            latencies.append(end - t_ns)
            if out.events and any(isinstance(e, AlertEvent) for e in out.events):
                alert_parts.append((start - t_ns, end - start,
                                    int(1e9 * (time.thread_time() - round_began[1]))))
        return out
    gateway.handle = timed
    return latencies, alert_parts


def mark_steady(gateway, calls: list, after_s: float, reads: list[float],
                rounds: list[int]) -> dict:
    """The run's clocks at the first chunk handled `after_s` after the gateway's first call
    (filled then, in the processing thread): the steady state's figures are from there on. The
    nodes' connects come first (hello, info and plan replies, each front end's first cores and,
    once per process, its threshold tables: tens of ms a front-end kind), a one-off cost that a
    replay in the same process finds cached: timed in the live run and not in the replay, it
    made the live thread look several times slower a chunk than it is."""
    mark: dict = {}
    began: list[float] = []
    handle = gateway.handle

    def marking(kind, path, t_ns, data):
        if not mark:
            now = time.monotonic()
            if not began:
                began.append(now)
            elif now - began[0] >= after_s:
                mark.update(index=len(calls), wall=now, cpu=cpu_s(),
                            processing=time.thread_time(), reads=reads[0],
                            rounds=rounds[0],
                            frames=sum(h.frames for h in gateway.pipeline.nodes.values()))
                gateway.handle = handle  # marked: no more a layer of calls a chunk
        return handle(kind, path, t_ns, data)
    gateway.handle = marking
    return mark


def time_rounds(gateway, calls: list) -> tuple[list[tuple[int, int, float]], list]:
    """[(index in calls of its first, chunks, thread CPU seconds)] of each round that read
    something: its reads and the handling of what they queued (Gateway.run's round and take);
    and [index, thread CPU seconds] of the last round's start, kept up to date."""
    rounds: list[tuple[int, int, float]] = []
    read, take = gateway.reading.round, gateway.take
    began = [0, 0.0]

    def timed_read(timeout_s):
        began[:] = [len(calls), time.thread_time()]
        return read(timeout_s)

    def timed_take():
        took = take()
        if took:
            chunks = sum(call[0] == "data" for call in calls[began[0]:])
            rounds.append((began[0], chunks, time.thread_time() - began[1]))
        return took
    gateway.reading.round, gateway.take = timed_read, timed_take
    return rounds, began


def on_time(r: dict) -> tuple[float, float, float, float] | None:
    """(µs a round, µs a chunk, chunks a round on time, CPU seconds a node-second) of the steady
    state's rounds fitted as a + b x chunks, the last at rounds on time: a round every
    `ingest.read_interval` of the run's chunks a second holding what the nodes sent meanwhile
    (one at least). A loaded machine's
    rounds come late and hold more chunks than an idle gateway's, which flatters the measured
    figure; the fit gives the idle gateway's cadence from the same run (each round still pays
    this machine's cold start: `a`). None with rounds of fewer than two sizes."""
    rounds = [(k, c) for i, k, c in r["round_cpu"] if i >= r["steady_index"]]
    if len({k for k, _ in rounds}) < 2:
        return None
    chunks, cpu = np.array(rounds).T
    b, a = np.polyfit(chunks, cpu, 1)
    rate = r["chunks"] / r["wall"]  # chunks a second, all nodes
    per_round = max(rate * ingest.read_interval(rate), 1.0)
    return 1e6 * a, 1e6 * b, per_round, (a / per_round + b) * rate / r["nodes"]


def count_rounds(q: ingest.IngestQueue) -> list[int]:
    """[rounds]: the gateway's rounds of reads that queued something (it handles every chunk
    queued before it waits again)."""
    rounds = [0]
    reads = q.reads

    def counted(t_ns, port_reads):
        rounds[0] += 1
        reads(t_ns, port_reads)
    q.reads = counted
    return rounds


def time_reads() -> list[float]:
    """[CPU seconds so far in the gateway's rounds of reads] (PortReaders.round: the wait's
    system call, the reads, the split and the queueing; in the processing thread, so also in its
    CPU), kept up to date as the rounds run."""
    cpu = [0.0]
    round_ = ingest.PortReaders.round

    def timed(readers, timeout_s):
        c0 = time.thread_time()
        ready = round_(readers, timeout_s)
        cpu[0] += time.thread_time() - c0
        return ready
    ingest.PortReaders.round = timed
    return cpu


def replayed_cpu_s(calls: list, folder: Path, start: int = 0, passes: int = 3) -> float:
    """The processing thread's CPU for the same calls (ports opened, chunks, ticks) replayed at
    once through a fresh gateway with its store, no port to write to, from calls[start] on
    (those before it replayed untimed): the least of `passes`.
    Live, the gateway's thread wakes for each chunk among the fleet's processes (their caches'
    and the scheduler's cost on it); replayed, it runs them back to back in a warm cache."""
    runs = []
    for n in range(passes):
        cfg = config.from_dict({"gateway": {"ports": [], "discover": False,
                                            "db": str(folder / f"replay{n}.db")}})
        store = Store(cfg.db)
        gateway = Gateway(cfg, Pipeline(cfg), store=store)
        for call in calls[:start]:
            gateway.handle(*call)
        c0 = time.thread_time()
        for call in calls[start:]:
            gateway.handle(*call)
        runs.append(time.thread_time() - c0)
        store.close()
    return min(runs)


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def split_cpus(apart: bool) -> tuple[set[int] | None, set[int] | None]:
    """(the gateway's CPUs, the fleet's): with `apart` on a machine of 2 CPUs or more, the first
    for the gateway alone and the others for the fleet; else (None, None): any CPU."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not apart or len(allowed) < 2:
        return None, None
    return {allowed[0]}, set(allowed[1:])


class VirtualFleet:
    """`nodes` virtual nodes (the real firmware under MicroPython) on `scene`, streaming from boot,
    their process started with `start`."""

    def __init__(self, nodes: int, scene: Path, start):
        self.process = subprocess.Popen([sys.executable, "-m", "straja.cli", "sim", "node",
                                         "--json", "--stream", "--count", str(nodes),
                                         "--scene", str(scene)],
                                        stdout=subprocess.PIPE, text=True, preexec_fn=start)

    def ports(self) -> list[str]:
        return [n["port"] for n in json.loads(self.process.stdout.readline())["nodes"]]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


class NoiseWriter:
    """`nodes` nodes' streams as pi_check.py makes them (the default plan over noise, the hello's
    replies first), each node its own pseudo-terminal, written at their times by `writers`
    processes started with `start` (bench_gateway_readers.write_streams; node n to writer
    n % writers): the plan's frame rate on a machine too loaded for MicroPython interpreters to
    keep it, and no fleet CPU beside the gateway's. Each chunk's lateness is kept (`lag_ms`): a
    writer that falls behind, or whose writes block on a pty the gateway does not read in time,
    shows there."""

    LEAD_S = 0.5  # the gateway opens the ports meanwhile

    def __init__(self, nodes: int, seconds: float, start, writers: int = 1):
        from bench_gateway_readers import write_streams
        from pi_check import hello, node_chunks
        rng = np.random.default_rng(1)
        streams = [node_chunks(n, seconds, rng) for n in range(1, nodes + 1)]
        first = min(s[0].t_ns for s in streams)
        chunks = [(0.0, n, hello(n + 1)) for n in range(nodes)]
        chunks += [((c.t_ns - first) / 1e9 + self.LEAD_S,
                    int(c.source.removeprefix("/dev/node")) - 1, c.data) for c in merge(streams)]
        raise_fd_limit(3 * nodes + 64)
        self.ptys = [os.openpty() for _ in range(nodes)]
        masters = [m for m, _ in self.ptys]
        t0 = time.monotonic() + self.LEAD_S
        shares = [[c for c in chunks if c[1] % writers == w] for w in range(writers)]
        self.lags = [multiprocessing.RawArray("d", [np.nan] * len(share)) for share in shares]

        def write(share, lags):
            start()
            write_streams(masters, share, t0, lags)
        fork = multiprocessing.get_context("fork")
        self.processes = [fork.Process(target=write, args=(share, lags), daemon=True)
                          for share, lags in zip(shares, self.lags)]
        for process in self.processes:
            process.start()

    def ports(self) -> list[str]:
        return [os.ttyname(slave) for _, slave in self.ptys]

    def lag_ms(self) -> np.ndarray:
        """Each chunk written so far: how late, ms."""
        lags = np.concatenate([np.frombuffer(lags) for lags in self.lags])
        return 1e3 * lags[~np.isnan(lags)]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.join(timeout=60)
        for master, slave in self.ptys:
            os.close(master)
            os.close(slave)


def writers_for(nodes: int) -> int:
    """Writer processes for `nodes` noise streams: one a NODES_A_WRITER."""
    return -(-nodes // NODES_A_WRITER)


def raise_fd_limit(need: int) -> None:
    """The soft limit on open files raised to `need` (at most the hard limit) when under it: a
    NoiseWriter holds both ends of a pty a node and the gateway opens each (3 a node), over a
    Pi's default soft limit of 1024 from about 320 nodes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY
                                                    else min(need, hard), hard))


def measure(nodes: int, seconds: float, fleet_nice: int | None = None, apart: bool = False,
            noise: bool = False, writers: int | None = None) -> dict:
    """A live run: `nodes` virtual nodes (at nice `fleet_nice`, default FLEET_NICE; with `apart`,
    on other CPUs than the gateway's: split_cpus; with `noise`, a NoiseWriter of `writers`
    processes instead, default writers_for(nodes), at NOISE_NICE by default) streaming to the real
    gateway for `seconds`; its figures (CPU in seconds, latencies in ms)."""
    load = os.getloadavg()[0]  # before the fleet starts: the other jobs on this machine
    gateway_cpus, fleet_cpus = split_cpus(apart)
    fleet_nice = fleet_nice or (NOISE_NICE if noise else FLEET_NICE)

    def fleet_start():
        os.nice(fleet_nice)
        if fleet_cpus:
            os.sched_setaffinity(0, fleet_cpus)  # (its interpreters and boards inherit it)

    with tempfile.TemporaryDirectory(prefix="straja-gwlive-") as tmp:
        tmp = Path(tmp)
        writers = min(writers or writers_for(nodes), nodes)
        fleet = (NoiseWriter(nodes, seconds + WARM_S, fleet_start, writers) if noise else
                 VirtualFleet(nodes, grid_scene(nodes, tmp), fleet_start))
        mine = os.sched_getaffinity(0) if gateway_cpus else None
        try:
            if gateway_cpus:
                os.sched_setaffinity(0, gateway_cpus)  # this process: all the gateway's threads
            ports = fleet.ports()
            # the default config (node_stats every 30 s, as a Pi runs it): the frames are
            # counted from the pipeline's node health at the end, not from node_stats rows
            cfg = config.from_dict({"gateway": {"ports": ports, "discover": False,
                                                "db": str(tmp / "gw.db")}})
            store = Store(cfg.db)
            gateway = Gateway(cfg, Pipeline(cfg), store=store)
            calls: list = []
            reads = time_reads()  # (first: the class's round, which time_rounds wraps)
            round_cpu, round_began = time_rounds(gateway, calls)
            every_chunk, alert_parts = time_every_chunk(gateway, calls, round_began)
            rounds = count_rounds(gateway.queue)
            steady = mark_steady(gateway, calls, WARM_S, reads, rounds)
            p0 = time.thread_time()
            gateway.run(seconds + WARM_S)  # this thread: the processing (pipeline, store)
            # from the steady state's mark on
            cpu, wall = cpu_s() - steady["cpu"], time.monotonic() - steady["wall"]
            processing = time.thread_time() - steady["processing"]
            start_cpu = steady["processing"] - p0
            frames = sum(h.frames for h in gateway.pipeline.nodes.values()) - steady["frames"]
            alerts = store.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
            store.close()
            lag_ms = fleet.lag_ms() if noise else None
        finally:
            if mine:
                os.sched_setaffinity(0, mine)
            fleet.stop()
        replayed = replayed_cpu_s(calls, tmp, steady["index"])
    return {"nodes": nodes, "load": load, "wall": wall, "cpu": cpu, "processing": processing,
            "apart": gateway_cpus is not None, "start_cpu": start_cpu,
            "replayed": replayed, "reads": reads[0] - steady["reads"],
            "rounds": rounds[0] - steady["rounds"], "frames": frames, "alerts": alerts,
            "chunks": sum(call[0] == "data" for call in calls[steady["index"]:]),
            "round_cpu": round_cpu, "steady_index": steady["index"],
            "writers": writers if noise else 0, "writer_lag_ms": lag_ms, "fleet_nice": fleet_nice,
            "alert_ms": np.array(gateway.latencies_ns) / 1e6,
            "chunk_ms": np.array(every_chunk) / 1e6, "alert_parts": alert_parts}


def interval_ms(r: dict) -> float:
    """The gateway's interval between rounds of reads at the run's chunks a second, ms."""
    return 1e3 * ingest.read_interval(r["chunks"] / r["wall"])


def per_node_ms(r: dict, cpu_s: float) -> float:
    """CPU seconds of a run as ms a node-second."""
    return 1000 * cpu_s / r["wall"] / r["nodes"]


def chunks_a_round(r: dict) -> float:
    """The steady state's chunks read a round of reads (a wake-up of the gateway each)."""
    return r["chunks"] / max(r["rounds"], 1)


def writer_lag(r: dict) -> str:
    """How late the noise writers wrote (their frames' times kept or not), in words."""
    lag = r["writer_lag_ms"]
    if lag is None or not lag.size:
        return "no noise writer"
    return (f"{r['writers']} writer process{'es' if r['writers'] > 1 else ''}, a frame late by "
            f"p50 {np.percentile(lag, 50):.2f} / p99 {np.percentile(lag, 99):.2f} / max "
            f"{lag.max():.1f} ms")


def report(r: dict, args) -> int:
    """One run's lines; 1 when nothing was read."""
    lat, chunks, wall, cpu, nodes = r["alert_ms"], r["chunk_ms"], r["wall"], r["cpu"], r["nodes"]
    where = "; the gateway on a CPU of its own, the fleet on the others" if r["apart"] else ""
    fleet = f"noise streams ({writer_lag(r)})" if args.noise else "virtual nodes"
    print(f"{nodes} {fleet} at nice {r['fleet_nice']}, the gateway at nice "
          f"{os.nice(0)}{where}; load average {r['load']:.1f} before the fleet started")
    print(f"{nodes} nodes, {wall:.0f} s timed, {r['frames']} frames received "
          f"({r['frames'] / wall / nodes:.1f} a node-second; the default plan sends "
          "about 28), "
          f"{r['chunks']} chunks read in {r['rounds']} rounds of reads ("
          f"{chunks_a_round(r):.2f} a round, each a wake-up of the gateway), "
          f"{r['alerts']} alerts, {lat.size} alert events")
    if not chunks.size:
        print("no chunk read: the fleet sent nothing (starved? see --fleet-nice)")
        return 1
    print(f"every chunk, arrival to processed and stored: p50 {np.percentile(chunks, 50):.2f} ms, "
          f"p99 {np.percentile(chunks, 99):.2f} ms, max {chunks.max():.2f} ms")
    if lat.size:
        print(f"alert latency, arrival to stored: p50 {np.percentile(lat, 50):.2f} ms, "
              f"p99 {np.percentile(lat, 99):.2f} ms, max {lat.max():.2f} ms "
              f"(target p99 < 20 ms: {'met' if np.percentile(lat, 99) < 20 else 'NOT met'}; "
              f"a frame waits at most {interval_ms(r):g} ms more in the kernel "
              "before it is read)")
        waited, handled, cpu_ns = (np.array(p) / 1e6 for p in zip(*r["alert_parts"]))
        print(f"alert chunks ({waited.size}), max: waited in the queue {waited.max():.2f} ms, "
              f"handled {handled.max():.2f} ms wall, its round's CPU up to it at most "
              f"{cpu_ns.max():.2f} ms; the slowest: waited {waited[handled.argmax()]:.2f}, "
              f"handled {handled.max():.2f}, its round's CPU up to it "
              f"{cpu_ns[handled.argmax()]:.2f} ms")
    handled = r["processing"] - r["reads"]
    print(f"gateway CPU: {cpu:.2f} s in {wall:.0f} s = {100 * cpu / wall:.1f} % of one core, "
          f"{per_node_ms(r, cpu):.2f} ms per node-second; of which its thread "
          f"{r['processing']:.2f} s ({per_node_ms(r, r['processing']):.2f} ms per node-second: "
          f"the rounds of reads {per_node_ms(r, r['reads']):.2f}, the rest, the processing, "
          f"{per_node_ms(r, handled):.2f}), other threads {cpu - r['processing']:.2f} s")
    print(f"the same calls replayed through a fresh gateway at once (warm caches, no fleet "
          f"between chunks): {r['replayed']:.2f} s ({per_node_ms(r, r['replayed']):.2f} ms per "
          f"node-second): the live processing took {handled / r['replayed']:.1f}x")
    fit = on_time(r)
    a, b, per_round, idle = fit or (np.nan,) * 4
    print(f"a round's CPU, fitted over the steady state's rounds: {a:.0f} us + {b:.1f} us a chunk; "
          f"at rounds on time (every {interval_ms(r):g} ms, {per_round:.1f} chunks "
          f"each: an idle gateway's cadence) {1e3 * idle:.2f} ms per node-second")
    print(f"(the figures above are of the steady state, from {WARM_S:g} s after the first chunk: "
          f"the connects before it took {r['start_cpu']:.2f} s of the gateway's thread, a "
          "one-off cost, not timed in the replay either)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--nodes", type=int, nargs="+", default=[16],
                    help="node counts, run in turn")
    ap.add_argument("--fleet-nice", type=int, default=None, choices=range(1, 20),
                    metavar="1-19", help="the fleet's nice value (above the gateway's 0; "
                                         f"default {FLEET_NICE}, {NOISE_NICE} with --noise)")
    ap.add_argument("--apart", action="store_true",
                    help="the gateway on the first CPU alone, the fleet on the others")
    ap.add_argument("--noise", action="store_true",
                    help="pi_check's noise streams written into the ports at the default plan's "
                         "rate instead of virtual nodes (no emitters, no alerts)")
    ap.add_argument("--writers", type=int, default=None,
                    help=f"--noise: writer processes (default one a {NODES_A_WRITER} nodes)")
    args = ap.parse_args()
    failed = 0
    for nodes in args.nodes:
        failed |= report(measure(nodes, args.seconds, args.fleet_nice, args.apart, args.noise,
                                 args.writers), args)
    return failed


if __name__ == "__main__":
    sys.exit(main())
