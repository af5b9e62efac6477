"""bench/pi_check.py's live rows: a node count each, the plan's-rate rows of a starved fleet said
so, and the noise writers' lateness."""
import importlib.util
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from straja.framing import FrameSplitter
from straja.paths import REPO
from straja.serial_port import open_port


def load(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def pi_check(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    return load("pi_check")


def a_run(nodes: int, frames_a_node_second: float) -> dict:
    """bench_gateway_live.measure's figures of a 10 s run that used 2 ms of CPU a node-second."""
    return {"nodes": nodes, "wall": 10.0, "cpu": 0.02 * nodes, "processing": 0.015 * nodes,
            "reads": 0.005 * nodes, "replayed": 0.002 * nodes, "load": 0.1, "apart": True,
            "frames": int(10 * nodes * frames_a_node_second), "chunks": 100, "rounds": 10,
            "writers": 1, "writer_lag_ms": np.array([0.1, 0.2]), "alert_ms": np.array([]),
            # its rounds: 100 us + 20 us a chunk; a round before the steady state left out
            "steady_index": 5, "round_cpu": [(0, 1, 0.5), (5, 5, 200e-6), (9, 10, 300e-6),
                                             (20, 20, 500e-6)]}


def test_the_plans_rate_is_not_extrapolated_from_a_starved_fleet(pi_check):
    planned = pi_check.planned_frames()
    assert 28 < planned < 29  # the default plan's 27.4 sweeps and a STATUS a node-second
    assert pi_check.at_plan_rate(0.002, planned) == pytest.approx(0.002)
    assert pi_check.at_plan_rate(0.002, 2 * planned) == pytest.approx(0.002)  # never less
    assert pi_check.at_plan_rate(0.002, 0.6 * planned) == pytest.approx(0.002 / 0.6)
    assert pi_check.at_plan_rate(0.002, 0.4 * planned) is None
    assert pi_check.at_plan_rate(0.002, 0.0) is None
    rows = dict(pi_check.live_rows(a_run(16, 0.05), 1.0, False))
    assert rows["live, 16 nodes: gateway CPU a node-second at the plan's frame rate"].startswith(
        "fleet starved (0.1 frames a node-second)")
    assert not any("served" in name for name in rows)
    rows = dict(pi_check.live_rows(a_run(128, planned), 6.0, True))
    assert rows["live, 128 nodes: gateway CPU a node-second"] == "12.000 ms"
    assert rows["live, 128 nodes: nodes one core serves at the plan's rate, at this count "
                "(100 % / 50 % load)"] == "83 / 42"
    assert rows["live, 128 nodes: served by one core"].startswith("NO: 154 %")
    # 100 chunks in 10 s: 0.04 a round on time, so a round a chunk: (100 + 20) us x 10 chunks a
    # second over 128 nodes, x 6
    assert rows["live, 128 nodes: at rounds on time (every 4 ms: an idle gateway's cadence), "
                "fitted"].startswith("0.056 ms a node-second (a round 600 us + 120.0 us a chunk, "
                                     "1.0 chunks a round): 17778 / 8889 nodes")
    assert "10.0 chunks a round" in rows["live, 128 nodes: noise streams (--live-noise), 1 "
                                         "writer process, a frame late by p50 0.15 / p99 0.20 / "
                                         "max 0.2 ms"]


def test_the_fit_of_a_busy_fleet_is_at_the_gateway_s_busy_interval(pi_check):
    """A run whose ports brought BUSY_CHUNKS_S chunks a second or more is fitted at the rounds
    the gateway then makes: BUSY_READ_INTERVAL_S apart (8 ms), not READ_INTERVAL_S."""
    run = a_run(128, pi_check.planned_frames()) | {"chunks": 30000}  # 3000 a second
    rows = dict(pi_check.live_rows(run, 6.0, True))
    # (100 us / 24 chunks + 20 us) x 3000 chunks a second over 128 nodes, x 6
    assert rows["live, 128 nodes: at rounds on time (every 8 ms: an idle gateway's cadence), "
                "fitted"].startswith("3.398 ms a node-second (a round 600 us + 120.0 us a chunk, "
                                     "24.0 chunks a round)")


@pytest.mark.timeout(60)
def test_the_noise_writers_share_the_nodes_and_say_how_late_they_wrote(pi_check):
    """--noise: two writer processes, three nodes: each port gets its own node's hello replies
    and then its sweeps at the default plan's rate (pi_check's streams); every chunk written has
    its lateness."""
    live = load("bench_gateway_live")
    writer = live.NoiseWriter(3, 4.0, lambda: None, writers=2)
    assert len(writer.processes) == 2
    try:
        ports = [open_port(path) for path in writer.ports()]
        for port in ports:
            os.set_blocking(port.fd, False)
        got = {port: b"" for port in ports}
        end = time.monotonic() + writer.LEAD_S + 2.0
        while time.monotonic() < end:  # (a pty holds 4 KiB: read as the gateway does)
            time.sleep(0.02)
            for port in ports:
                try:
                    got[port] += os.read(port.fd, 1 << 16)
                except BlockingIOError:
                    pass
        lag = writer.lag_ms()
        per_s = sum(1e6 / period for *_, period in pi_check.plan_sweeps())
        for port in ports:
            pieces = FrameSplitter().split(got[port])
            assert not pieces[0][0]  # the hello's replies come first
            assert 1.5 * per_s <= sum(sweep for sweep, _ in pieces) <= 2.6 * per_s
            port.close()
        assert 3 * 1.5 * per_s <= lag.size  # the frames written so far, each with its lateness
        assert 0 <= np.median(lag) < 50
    finally:
        writer.stop()


@pytest.mark.timeout(300)
def test_pi_check_prints_a_row_group_for_each_live_node_count(tmp_path):
    """`--live-nodes 2 3 --live-noise`: one table, each count's rows in it with sane figures,
    exit 0."""
    done = subprocess.run([sys.executable, str(REPO / "bench/pi_check.py"), "--nodes", "2",
                           "--seconds", "4", "--scene-nodes", "0", "--live-seconds", "3",
                           "--live-nodes", "2", "3", "--live-noise"],
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr
    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", done.stdout, re.M))
    for nodes in (2, 3):
        head = f"live, {nodes} nodes"
        fleet = next(v for k, v in rows.items() if k.startswith(f"{head}: noise streams"))
        sent, chunks = (float(x) for x in re.search(
            r"([\d.]+) frames a node-second .* ([\d.]+) chunks a round", fleet).groups())
        assert 20 < sent < 35 and chunks >= 1
        cpu = float(rows[f"{head}: gateway CPU a node-second"].removesuffix(" ms"))
        assert 0 < cpu < 100
        processing, reads = (float(x) for x in re.findall(
            r"[\d.]+", rows[f"{head}: of which processing / rounds of reads (one thread)"]))
        assert processing + reads == pytest.approx(cpu, rel=0.15)  # (other threads: little)
        served = rows[f"{head}: nodes one core serves at the plan's rate, at this count "
                      "(100 % / 50 % load)"]
        full, half = (int(x) for x in served.split(" / "))
        assert full > nodes and half == pytest.approx(full / 2, abs=1)
        assert rows[f"{head}: served by one core"].startswith("yes")
        # (a fit on a loaded machine may read either term below 0: it is printed as it is)
        fitted = next(v for k, v in rows.items() if k.startswith(f"{head}: at rounds on time"))
        assert re.match(r"[\d.]+ ms a node-second \(a round -?\d+ us \+ -?[\d.]+ us a chunk, "
                        r"[\d.]+ chunks a round\): -?\d+ / -?\d+ nodes a core", fitted) or (
                            fitted == "too few rounds to fit"), fitted


def test_the_noise_writers_are_one_a_64_nodes_and_the_fd_limit_holds_three_a_node(monkeypatch):
    """A writer process a NODES_A_WRITER nodes; the soft limit on open files raised to what the
    ptys and the gateway's opens need when under it (a Pi's default 1024 is under 3 x 400),
    never lowered, never past the hard limit."""
    import resource
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    live = load("bench_gateway_live")
    assert [live.writers_for(n) for n in (1, 16, 64, 65, 128, 129)] == [1, 1, 1, 2, 2, 3]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        live.raise_fd_limit(3 * 100 + 64)
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (364, hard)
        live.raise_fd_limit(300)
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (364, hard)
        if hard != resource.RLIM_INFINITY:
            live.raise_fd_limit(hard + 1)
            assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
