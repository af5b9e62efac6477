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


def test_the_live_bench_times_the_steady_state_live_and_in_the_replay(monkeypatch, tmp_path):
    """The live figures start at the first call `after_s` after the gateway's first (the
    connects before are a one-off cost): the mark holds the call's index and the clocks then,
    and the replay runs the calls before it untimed (a replay from the index costs less than
    one of every call, whose connects design tables)."""
    import time

    from straja.gateway import config
    from straja.gateway.ingest import Gateway
    from straja.gateway.pipeline import Pipeline
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    live = load("bench_gateway_live")
    pi_check = load("pi_check")
    cfg = config.from_dict({"gateway": {"ports": [], "discover": False}})
    gateway = Gateway(cfg, Pipeline(cfg))
    calls, reads, rounds = [], [0.25], [7]
    live.time_every_chunk(gateway, calls, [0, 0.0])
    mark = live.mark_steady(gateway, calls, 0.2, reads, rounds)
    gateway.handle("open", "/dev/node1", pi_check.T0, b"")
    gateway.handle("data", "/dev/node1", pi_check.T0, pi_check.hello(1))
    assert not mark
    time.sleep(0.25)
    chunks = pi_check.node_chunks(1, 3.0, __import__("numpy").random.default_rng(1))
    for c in chunks:
        gateway.handle("data", c.source, c.t_ns, c.data)
    assert mark["index"] == 2 and mark["reads"] == 0.25 and mark["frames"] == 2  # the replies
    assert mark["rounds"] == 7
    assert len(calls) == 2 + len(chunks)
    seen = []  # the calls replayed and the clock's reads, in order
    handle, clock = Gateway.handle, live.time.thread_time
    monkeypatch.setattr(Gateway, "handle", lambda gw, *call: seen.append(call[0]) or
                        handle(gw, *call))
    monkeypatch.setattr(live.time, "thread_time", lambda: seen.append("clock") or clock())
    assert live.replayed_cpu_s(calls, tmp_path, mark["index"], passes=1) > 0
    assert seen == ["open", "data", "clock", *["data"] * len(chunks), "clock"]
