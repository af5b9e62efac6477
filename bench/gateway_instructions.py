"""The live gateway's rounds made repeatable, to count their instructions (perf5,
docs/benchmarks.md, "Instructions a chunk of the live path").

    .venv/bin/python bench/gateway_instructions.py [--nodes 128] [--seconds 2]
    valgrind --tool=callgrind --toggle-collect=_operator_call \\
        .venv/bin/python bench/gateway_instructions.py --nodes 128 --seconds 2

pi_check.py's noise streams of `--nodes` nodes (the default plan) go to the real gateway's port
reads as in a live run, each node its own pseudo-terminal, but one round at a time in this
thread: the round's interval of stream (`ingest.read_interval` of its rate: 8 ms at 128 nodes)
is written to the ports, all of it readable (FIONREAD), then one `PortReaders.round` and
`Gateway.take` (decode, detection core, health, store, what the gateway's thread runs a round).
The gateway's clock is the stream's (time.time_ns patched), so every run makes the same rounds
and the same events (their digest printed): a change that keeps them bit for bit keeps the
digest. After the first WARM_S seconds, each round runs inside `operator.call`, so that
callgrind (`--toggle-collect=_operator_call`) counts those rounds' instructions alone: an
instruction count does not move with the load of a shared machine as CPU time does (the
thread CPU printed does). Ir of the run over the chunks printed: instructions a chunk.

`--cold`: before each counted round (not counted), bench_gateway_cold's 8 MiB are written, as
what runs between two live rounds overwrites the caches; with callgrind's cache model of a Pi 4
core (perf8, docs/benchmarks.md), the rounds' misses then count what a live round pays for its
cold caches, which its instructions do not show:

    valgrind --tool=callgrind --toggle-collect=_operator_call --cache-sim=yes \\
        --I1=32768,2,64 --D1=32768,2,64 --LL=1048576,16,64 \\
        .venv/bin/python bench/gateway_instructions.py --nodes 128 --seconds 2 --cold
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import operator
import os
import re
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path
from unittest import mock

import numpy as np

from straja.gateway import config, ingest
from straja.gateway.pipeline import Pipeline
from straja.gateway.store import Store
from straja.testing.synth import merge

sys.path.insert(0, str(Path(__file__).parent))
from bench_gateway_cold import EVICT_BYTES  # noqa: E402
from bench_gateway_live import raise_fd_limit  # noqa: E402
from pi_check import hello, node_chunks, planned_frames  # noqa: E402

WARM_S = 2.0  # seconds of stream before the counted rounds: each front end's first sweeps


class StreamClock:
    """time.time_ns for the gateway: the stream's time, set a round at a time."""

    def __init__(self, now_ns: int):
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


def readable(fd: int, size: int) -> None:
    """Until `size` bytes written to a pty's master are readable at its port `fd` (the line
    discipline hands them on asynchronously)."""
    while struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0] < size:
        time.sleep(0.0002)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=2.0, help="seconds of stream counted")
    ap.add_argument("--cold", action="store_true",
                    help="overwrite the caches before each counted round (not counted)")
    args = ap.parse_args()
    if args.nodes < 1 or args.seconds <= 0:
        ap.error("need --nodes >= 1 and --seconds > 0")
    rng = np.random.default_rng(1)
    chunks = merge([node_chunks(n, WARM_S + args.seconds, rng)
                    for n in range(1, args.nodes + 1)])
    raise_fd_limit(3 * args.nodes + 64)
    ptys = [os.openpty() for _ in range(args.nodes)]
    names = [os.ttyname(slave) for _, slave in ptys]
    interval_ns = int(1e9 * ingest.read_interval(args.nodes * planned_frames()))
    clock = StreamClock(chunks[0].t_ns - 1_000_000_000)
    events: list = []
    evict = np.zeros(EVICT_BYTES if args.cold else 0, np.uint8)
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(time, "time_ns", clock):
        cfg = config.from_dict({"gateway": {"ports": names, "discover": False,
                                            "db": str(Path(tmp) / "gw.db")}})
        gateway = ingest.Gateway(cfg, Pipeline(cfg), store=Store(cfg.db))
        gateway.sinks.append(lambda stored: events.extend(s.event for s in stored))

        def round_() -> None:
            gateway.reading._not_before = 0.0  # (the rounds' times are the stream's)
            gateway.reading.round(0.0)
            gateway.take()

        def write(pending: dict[int, bytes]) -> None:
            for n, data in pending.items():
                os.write(ptys[n][0], data)
            for n, data in pending.items():
                readable(gateway.readers[names[n]].fd, len(data))

        gateway.scan_ports()
        gateway.take()
        write({n: hello(n + 1) for n in range(args.nodes)})
        round_()
        for master, _ in ptys:  # the hello's commands to the nodes, which nothing reads here
            os.set_blocking(master, False)
            try:
                os.read(master, 1 << 16)
            except BlockingIOError:
                pass
        steady_ns = chunks[0].t_ns + int(WARM_S * 1e9)
        end_ns = steady_ns + int(args.seconds * 1e9)
        k = counted = rounds = cpu_ns = 0
        while clock.now_ns < end_ns:
            clock.now_ns += interval_ns
            pending: dict[int, bytes] = {}
            while k < len(chunks) and chunks[k].t_ns < clock.now_ns:
                n = int(chunks[k].source.removeprefix("/dev/node")) - 1
                pending[n] = pending.get(n, b"") + chunks[k].data
                counted += clock.now_ns > steady_ns
                k += 1
            write(pending)
            if clock.now_ns <= steady_ns:
                round_()
                continue
            evict[::64] += 1  # a write to every cache line (none without --cold)
            c0 = time.thread_time_ns()
            operator.call(round_)
            cpu_ns += time.thread_time_ns() - c0
            rounds += 1
        gateway.store.close()
    for master, slave in ptys:
        os.close(master)
        os.close(slave)
    text = re.sub(r"/dev/pts/\d+", lambda m: f"node{names.index(m.group(0)) + 1}", repr(events))
    print(f"{args.nodes} nodes, {args.seconds:g} s counted after {WARM_S:g} s: {rounds} rounds "
          f"every {interval_ns / 1e6:g} ms, {counted} chunks; thread CPU {cpu_ns / 1e6:.1f} ms "
          f"({1e3 * cpu_ns / 1e9 / args.seconds / args.nodes:.3f} ms a node-second); "
          f"{len(events)} events, digest {hashlib.sha1(text.encode()).hexdigest()[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
