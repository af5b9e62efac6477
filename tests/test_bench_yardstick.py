"""bench/yardstick.py: the n-body loop is the Benchmarks Game's (its published energies), and
pi_check's --scale takes a factor or the yardstick's pi4."""
import argparse
import importlib.util

import pytest

from straja.paths import REPO


def load(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


yardstick = load("yardstick")


def test_the_loop_gives_the_programs_published_energies():
    bodies, pairs = yardstick.system()
    assert round(yardstick.energy(bodies, pairs), 9) == -0.169075164
    yardstick.advance(bodies, pairs, 0.01, 1000)
    assert round(yardstick.energy(bodies, pairs), 9) == -0.169087605


def test_the_yardstick_is_cpu_microseconds_a_step():
    us = yardstick.nbody_us(steps=200, runs=2)
    assert 0 < us < 1000
    assert f"n-body {us:.2f} us a step" in yardstick.line(us)


def test_pi_checks_scale_is_a_positive_factor_or_pi4(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    pi_check = load("pi_check")
    assert pi_check.scale_arg("pi4") == "pi4"
    assert pi_check.scale_arg("2.5") == 2.5
    for bad in ("0", "-1", "fast", "nan"):
        with pytest.raises(argparse.ArgumentTypeError):
            pi_check.scale_arg(bad)


def test_the_live_bench_puts_the_gateway_on_a_cpu_of_its_own_when_asked(monkeypatch):
    """pi_check's live cross-check runs the gateway on the first CPU alone and the fleet on the
    others (a Pi's nodes are other devices); on one CPU, or unasked, both run anywhere."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    live = load("bench_gateway_live")
    monkeypatch.setattr(live.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert live.split_cpus(True) == ({0}, {1, 2, 3})
    assert live.split_cpus(False) == (None, None)
    monkeypatch.setattr(live.os, "sched_getaffinity", lambda pid: {5})
    assert live.split_cpus(True) == (None, None)


@pytest.mark.timeout(60)
def test_the_live_benchs_noise_writer_streams_the_default_plan_at_its_rate(monkeypatch):
    """--noise: each port gets its node's hello replies, then sweeps at the default plan's times
    (pi_check's streams), written by a process of its own."""
    import os
    import time

    from straja.framing import FrameSplitter
    from straja.serial_port import open_port
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    live = load("bench_gateway_live")
    pi_check = load("pi_check")
    writer = live.NoiseWriter(2, 4.0, lambda: None)
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
        for port in ports:
            pieces = FrameSplitter().split(got[port])
            sweeps = sum(sweep for sweep, _ in pieces)
            assert not pieces[0][0]  # the hello's replies come first
            per_s = sum(1e6 / period for *_, period in pi_check.plan_sweeps())
            assert 1.5 * per_s <= sweeps <= 2.6 * per_s  # 2 s of the plan (and a little more)
            port.close()
    finally:
        writer.stop()
