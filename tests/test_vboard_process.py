"""A virtual board serving from its own process (what a Fleet's boards do, so `straja demo`'s):
its answers to the firmware never wait for the Python threads of the process that runs the
fleet. Shown without timing anything: while this process holds its GIL for a second (one long
C call, which no thread switch interrupts), a board in a thread of it answers no reading (but
the few that thread switches just before and after the call let through) and the firmware waits,
while a board in its own process goes on answering (docs/virtual-node.md, "Timing")."""
from __future__ import annotations

import json
import subprocess
import sys
import os
import time

import pytest

from straja.paths import board_profile_path
from straja.vboard import NoiseOnly, VirtualBoard
from straja.vnode.bridge import VirtualNode
from straja.vnode.fleet import Fleet, NodeSpec
from straja.vnode.image import write_image

PROFILE = json.loads(board_profile_path("virtual").read_text())
HOLD_S = 1.0  # CPU time this process holds its GIL for


def gil_hold(seconds: float) -> range:
    """What the builtin sum keeps every other thread of this process from running Python for
    about `seconds` of CPU: a sum over a range is one C loop that never offers the GIL."""
    start = time.process_time()
    sum(range(1_000_000))
    return range(int(1_000_000 * seconds / max(time.process_time() - start, 1e-6)))


def wait_streaming(board: VirtualBoard, timeout: float = 30.0) -> None:
    """Until the firmware scans (its front ends' readings: round trips) at a steady pace."""
    end = time.monotonic() + timeout
    while board.round_trips < 500:
        assert time.monotonic() < end, "the node never scanned"
        time.sleep(0.1)


@pytest.mark.parametrize("own_process", [True, False], ids=["own process", "thread"])
def test_a_board_in_its_own_process_answers_while_this_process_holds_its_gil(tmp_path,
                                                                             own_process):
    flash = write_image(tmp_path / "flash", board="virtual",
                        config={"node_id": 5, "stream_on_boot": True})
    sock = str(tmp_path / "vb.sock")
    board = VirtualBoard(PROFILE, NoiseOnly(), sock, own_process=own_process).start()
    node = VirtualNode(flash, env={"STRAJA_VBOARD": sock}, heap=PROFILE.get("heap", "320K"))
    try:
        node.start()
        wait_streaming(board)
        hold = gil_hold(HOLD_S)
        before = board.round_trips
        sum(hold)
        served = board.round_trips - before
    finally:
        node.stop()
        board.stop()
    if own_process:
        assert served > 100  # a node scans at ~3 000 round trips a second
    else:
        # the firmware waits for each answer: a few slip through at the thread switches just
        # before and after the call (the switch interval is 100 us), none during it
        assert served <= 20
    assert board.errors == []


def test_a_fleets_boards_each_serve_from_their_own_process_with_their_counters_here(tmp_path):
    specs = [NodeSpec("a", 1, config={"stream_on_boot": True}), NodeSpec("b", 2)]
    with Fleet(specs, lambda name, profile: NoiseOnly(), workdir=tmp_path) as fleet:
        boards = [n.board for n in fleet.nodes]
        pids = [int(b.task_path.rsplit("/", 1)[1]) for b in boards]
        assert len(set(pids)) == 2 and os.getpid() not in pids
        # each its own session: its own scheduling group (autogroup), not this process's
        assert [os.getsid(pid) for pid in pids] == pids
        wait_streaming(boards[0])
        assert boards[0].feeds > 0 and boards[0].watchdog_ms is not None
        assert [b.connections for b in boards] == [1, 1]
        fleet.nodes[0].node.power_cut()  # the interpreter boots again; its board stays
        end = time.monotonic() + 20
        while boards[0].connections < 2:
            assert time.monotonic() < end, "the node never came back"
            time.sleep(0.1)
        # a node's interpreter (this run too) and its board share one CPU, the nodes go round
        # the CPUs (where there are several)
        pairs = [(os.sched_getaffinity(n.node._proc.pid), os.sched_getaffinity(pid))
                 for n, pid in zip(fleet.nodes, pids)]
        if len(os.sched_getaffinity(0)) > 1:
            assert all(len(node) == 1 and node == board for node, board in pairs), pairs
            assert pairs[0][0] != pairs[1][0]
        else:
            assert all(node == board == os.sched_getaffinity(0) for node, board in pairs)
        # the boards above every ordinary process where the OS allows it, the interpreters not
        assert [os.sched_getscheduler(pid) for pid in pids] == [
            os.SCHED_RR if real_time_allowed() else os.SCHED_OTHER] * 2
        assert {os.sched_getscheduler(n.node._proc.pid) for n in fleet.nodes} == {os.SCHED_OTHER}
    cpus = len(os.sched_getaffinity(0))
    more = Fleet([NodeSpec(f"n{i}", i + 1) for i in range(cpus + 1)],
                 lambda name, profile: NoiseOnly(), workdir=tmp_path)
    assert more._pair_cpus(0) is None  # more nodes than CPUs: the machine balances them
    for pid in pids:  # stopped with the fleet
        assert not os.path.exists(f"/proc/{pid}")
    unpaired = Fleet(specs, lambda name, profile: NoiseOnly(), workdir=tmp_path, pair_cpus=False)
    assert unpaired._pair_cpus(0) is None


def test_a_fleet_may_keep_its_boards_at_their_policy(tmp_path):
    """(The evaluation's reference node, whose contended costs were fitted so: straja.eval.vnodes.)"""
    with Fleet([NodeSpec("a", 1)], lambda name, profile: NoiseOnly(), workdir=tmp_path,
               real_time_boards=False) as fleet:
        pid = int(fleet.nodes[0].board.task_path.rsplit("/", 1)[1])
        assert os.sched_getscheduler(pid) == os.SCHED_OTHER


def real_time_allowed() -> bool:
    """Whether this process may take a real-time policy (root, CAP_SYS_NICE, RLIMIT_RTPRIO)."""
    code = ("import os\ntry:\n os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))\n"
            "except OSError:\n print(0)\nelse:\n print(1)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "1"


@pytest.mark.parametrize("nice, policy", [(0, "SCHED_RR"), (5, "SCHED_OTHER")])
def test_a_board_takes_the_lowest_real_time_priority_unless_started_nice(nice, policy):
    """A board process answers at once (SCHED_RR 1, where the OS allows it); one started at a
    positive nice value (a fleet yielding to the machine: bench_gateway_live) stays as it is."""
    code = (f"import os; from straja.vboard.server import answer_at_once; os.nice({nice}); "
            "answer_at_once(); print(os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    if policy == "SCHED_RR" and not real_time_allowed():
        policy = "SCHED_OTHER"
    assert out == [str(getattr(os, policy)), "1" if policy == "SCHED_RR" else "0"]


def test_a_new_session_keeps_its_parents_priority():
    """A board or interpreter in its own session (its own autogroup on Linux) keeps the nice value
    it was started at: a fleet at nice 19 yields the CPU to the gateway (bench_gateway_live)."""
    code = ("import os; from straja.vnode.bridge import new_session; os.nice(7); new_session(); "
            "print(os.getsid(0) == os.getpid()); "
            "print(open('/proc/self/autogroup').read().strip() "
            "if os.path.exists('/proc/self/autogroup') else 'no autogroups')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "True"
    assert out[1] == "no autogroups" or out[1].endswith(" nice 7"), out
