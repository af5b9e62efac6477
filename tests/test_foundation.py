"""The thin slice through the whole system (issue: Foundation): the real firmware in the real
MicroPython interpreter on a pseudo-terminal, the host reading its frames with pyserial and the
compiled decoder, a command and its reply, then Ctrl-C and the raw REPL."""
import json

import pytest

from straja import protocol
from straja.link import NodeLink


@pytest.fixture
def link(firmware_node):
    with NodeLink(firmware_node.port) as link:
        yield link


# A quick plan, so that 200 frames take seconds: the 2.4 GHz band in 32 channels, and envelope blocks.
FAST_PLAN = [
    {"front_end": "ism24", "start_khz": 2401750, "stop_khz": 2479250, "step_khz": 2500,
     "dwell_us": 1000},
    {"front_end": "env58", "rate_hz": 20000, "n": 256},
]


def test_200_frames_then_command_then_ctrl_c_and_raw_repl(link):
    assert link.call("plan", json.dumps(FAST_PLAN), timeout=10)
    assert link.call("start", timeout=10)["streaming"] is True
    frames = link.frames(200, timeout=60, drain=True)
    seqs = [f.seq for f in frames]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:])), "sequence gap"
    counters = link.counters()
    assert counters["corrupt"] == 0 and counters["oversize"] == 0 and counters["lost"] == 0
    assert {f.node_id for f in frames} == {7}
    assert any(f.type == protocol.SWEEP for f in frames)
    assert any(f.type == protocol.ENVELOPE for f in frames)
    assert any(f.type == protocol.STATUS for f in frames)
    # The virtual board's tone at 2441.75 MHz stands out of the noise in the channel that holds it.
    sweep = next(f.body for f in frames if f.type == protocol.SWEEP)
    dbm = sweep.dbm()
    peak = int(dbm.argmax())
    assert sweep.freqs_khz()[peak] == 2441750
    assert dbm[peak] - sorted(dbm)[len(dbm) // 2] > 30
    # node timestamps go forward per front end (they scan at once: a frame is stamped with the
    # start of its sweep, sent at its end) and for STATUS
    for key in {(f.type, getattr(f.body, "front_end", None)) for f in frames}:
        t = [f.t_us for f in frames if (f.type, getattr(f.body, "front_end", None)) == key]
        assert t == sorted(t), f"node timestamps go forward ({key})"

    reply = link.command("ping")
    assert reply.status == protocol.OK and reply.result()["pong"] is True
    bad = link.command("fly")
    assert bad.status == protocol.UNKNOWN

    with link.repl() as repl:
        assert repl.exec("import sys; print(sys.implementation.name)").strip() == b"micropython"
        assert repl.eval("1 + 2") == 3
        assert "straja_node" in repl.eval("__import__('os').listdir('/')")
