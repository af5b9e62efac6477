"""straja hq with many sites: the events per second it sustains, and the latency from a gateway
event to the dashboard's websocket message, at 10 and 50 simulated sites (docs/benchmarks.md).

A central mosquitto on 127.0.0.1; `straja hq --broker ... --db ... --web ...` as a process of its
own; one synthetic publisher (a paho client, QoS 1, the v1 layout) per site, publishing
`node_stats` events stamped with the time they were handed to paho. Two phases per site count:
- throughput: every site publishes its share of --events as fast as it can; the figure is
  events stored by straja hq (counted in its store) per second of wall time, first publish to
  last stored;
- latency: every site publishes --rate events per second for --seconds; a websocket client of
  the dashboard stamps each `node` message on arrival; latency = arrival - the event's t_ns.
CPU: the straja hq process's own (user + system), from /proc.
The store: SQLite (a file), or with `--store postgresql` a throwaway PostgreSQL server on a unix
socket (straja.testing.postgres; its server processes' CPU is not in the figure).
Run: .venv/bin/python bench/bench_hq.py [--sites 10 50] [--events 20000] [--seconds 10] [--rate 5]
                                        [--store sqlite|postgresql]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
from websockets.sync.client import connect

from straja.hq import store as hq_store
from straja.testing.postgres import ThrowawayPostgres

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
STRAJA = str(Path(sys.executable).with_name("straja"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Site:
    """One site's gateway, as straja hq sees it: its events on the central broker."""

    def __init__(self, index: int, port: int):
        self.base = f"straja/v1/site{index}/gw1"
        self.next_id = 1
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-site{index}")
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self) -> paho.MQTTMessageInfo:
        t_ns = time.time_ns()
        event = {"id": self.next_id, "kind": "node_stats", "t_ns": t_ns, "node_id": 1 + self.next_id % 4,
                 "online": True, "frames": self.next_id, "lost": 0, "restarts": 0,
                 "clock_offset_ns": 0, "uptime_s": 10, "mem_free": 100_000, "overruns": 0,
                 "frames_dropped": 0, "firmware": "bench"}
        self.next_id += 1
        return self.client.publish(f"{self.base}/events/node_stats", json.dumps(event), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def run(n_sites: int, events: int, seconds: float, rate: float, db: str, folder: Path) -> dict:
    broker_port, web_port = free_port(), free_port()
    conf = folder / f"central-{n_sites}.conf"
    conf.write_text(f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n"
                    "max_queued_messages 1000000\n" + ("user root\n" if os.geteuid() == 0 else ""))
    broker = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    hq = None
    sites = []
    count = hq_store.connect(db)

    def stored() -> int:
        return count.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    try:
        wait_port(broker_port)
        hq = subprocess.Popen([STRAJA, "hq", "--broker", f"127.0.0.1:{broker_port}", "--db", str(db),
                               "--web", f"127.0.0.1:{web_port}", "--client-id", f"bench{n_sites}"],
                              stderr=subprocess.DEVNULL)
        wait_port(web_port)
        sites = [Site(i, broker_port) for i in range(n_sites)]
        while stored() == 0:  # straja hq subscribed: the first event gets through
            sites[0].publish().wait_for_publish(5)
            time.sleep(0.1)
        base = stored()

        # throughput: each site publishes its share as fast as paho takes it
        cpu0, t0 = cpu_s(hq.pid), time.perf_counter()
        share = events // n_sites

        def blast(site):
            for _ in range(share):
                while True:
                    info = site.publish()
                    if info.rc == paho.MQTT_ERR_SUCCESS:
                        break
                    time.sleep(0.001)  # paho's window is full

        threads = [threading.Thread(target=blast, args=(s,)) for s in sites]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        target = base + share * n_sites
        while stored() < target:
            time.sleep(0.01)
        wall, cpu = time.perf_counter() - t0, cpu_s(hq.pid) - cpu0

        # latency: paced publishers, the dashboard's websocket stamping each message
        latencies = []
        with connect(f"ws://127.0.0.1:{web_port}/ws", max_size=None) as ws:
            ws.recv()  # the snapshot
            stop = threading.Event()

            def receive():
                while not stop.is_set():
                    try:
                        message = json.loads(ws.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    if message.get("type") == "node":
                        latencies.append(time.time_ns() - message["node"]["updated_ns"])

            reader = threading.Thread(target=receive)
            reader.start()
            period = 1.0 / (rate * n_sites)
            next_at = time.perf_counter()
            end = next_at + seconds
            i = 0
            while next_at < end:
                time.sleep(max(0.0, next_at - time.perf_counter()))
                sites[i % n_sites].publish()
                i += 1
                next_at += period
            time.sleep(1.0)
            stop.set()
            reader.join()
        lat_ms = np.array(latencies) / 1e6
        return {"sites": n_sites, "events": share * n_sites, "wall_s": wall,
                "per_s": share * n_sites / wall, "cpu_us": 1e6 * cpu / (share * n_sites),
                "paced": i, "received": len(latencies),
                "p50": np.percentile(lat_ms, 50), "p99": np.percentile(lat_ms, 99),
                "max": lat_ms.max()}
    finally:
        for s in sites:
            s.close()
        if hq is not None:
            hq.terminate()
            hq.wait(10)
        broker.terminate()
        broker.wait(10)
        count.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--events", type=int, default=20_000, help="throughput phase, all sites")
    ap.add_argument("--seconds", type=float, default=10.0, help="latency phase")
    ap.add_argument("--rate", type=float, default=5.0, help="events per second per site, "
                    "latency phase")
    ap.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite",
                    help="straja hq's store (postgresql: a throwaway server)")
    ap.add_argument("--quick", action="store_true", help="small: a check that it runs (CI)")
    args = ap.parse_args()
    if args.quick:
        args.sites, args.events, args.seconds = [10], 2000, 2.0
    print("| sites | events | sustained events/s | hq CPU per event | latency events | "
          "event -> websocket p50 / p99 / max |")
    print("|---:|---:|---:|---:|---:|---:|")
    server = ThrowawayPostgres().start() if args.store == "postgresql" else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in args.sites:
                db = server.new_database() if server else str(Path(tmp) / f"hq-{n}.db")
                report(run(n, args.events, args.seconds, args.rate, db, Path(tmp)), args.rate)
    finally:
        if server:
            server.stop()
    return 0


def report(r: dict, rate: float) -> None:
    print(f"| {r['sites']} | {r['events']} | {r['per_s']:.0f} | {r['cpu_us']:.0f} µs | "
          f"{r['received']} of {r['paced']} at {rate:g}/s per site | "
          f"{r['p50']:.1f} / {r['p99']:.1f} / {r['max']:.1f} ms |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
