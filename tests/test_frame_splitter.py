"""The gateway readers' FrameSplitter (compiled) against its reference (ingest.ReferenceSplitter):
the same pairs for any bytes cut anywhere, and what the pairs are on hand-made streams; its
read(2) of a port, and wait_ready, the reading thread's wait between rounds."""
import os
import random
import select
import threading
import time

import pytest

from straja import protocol as P
from straja.framing import PORT_EVENTS, FrameSplitter, wait_ready
from straja.gateway.ingest import ReferenceSplitter

SPLITTERS = [ReferenceSplitter, FrameSplitter]


def sweep(seq, node=1, bins=8):
    return P.encode_frame(P.Frame(P.SWEEP, node, seq, seq * 1000, P.Sweep(
        0, 0, seq, 5645000, 2000, 500, 1000, 0, bins, bytes([7] * bins))))


def log(seq, node=1):
    return P.encode_frame(P.Frame(P.LOG, node, seq, seq * 10, P.Log(20, "x")))


@pytest.fixture(params=SPLITTERS, ids=["reference", "compiled"])
def splitter(request):
    return request.param()


def test_each_sweep_is_a_pair_of_its_own_and_the_rest_between(splitter):
    s1, s2, l1 = sweep(1), sweep(2), log(3)
    pairs = splitter.split(s1 + l1 + b">>> " + s2)
    # (the stream's first delimiter: whether a frame ends there is not known)
    assert pairs == [(False, b"\0"), (True, s1[1:]), (False, l1[1:] + b">>> \0"), (True, s2[1:])]


def test_a_frame_cut_by_reads_is_held_until_its_end(splitter):
    s1, s2 = sweep(1), sweep(2, bins=64)
    assert splitter.split(s1 + s2[:30]) == [(False, b"\0"), (True, s1[1:])]
    assert splitter.split(s2[30:50]) == []
    assert splitter.split(s2[50:]) == [(True, s2[1:])]


def test_console_text_at_the_end_goes_on_at_once(splitter):
    assert splitter.split(b"\r\n>>> ") == [(False, b"\r\n>>> ")]
    assert splitter.split(b"print(1)\r\n1\r\n") == [(False, b"print(1)\r\n1\r\n")]


def test_a_run_without_delimiter_is_not_held_past_max_wire(splitter):
    run = b"\x01" * (P.MAX_WIRE + 5)
    assert splitter.split(run) == [(False, run)]
    s = sweep(4)
    assert splitter.split(s) == [(False, s[:1]), (True, s[1:])]  # its start no longer known


def test_not_bytes_like_raises_and_loses_nothing(splitter):
    s = sweep(5)
    assert splitter.split(s[:10]) == [(False, b"\0")]
    with pytest.raises(TypeError):
        splitter.split(5)
    assert splitter.split(memoryview(s[10:])) == [(True, s[1:])]


def test_compiled_agrees_with_the_reference_on_any_bytes_cut_anywhere():
    rng = random.Random(16)
    parts = [sweep(1), sweep(2, bins=300), log(3), b">>> ", b"\0\0", b"\r\nOK\r\n",
             sweep(4)[:20], b"\x01" * (P.MAX_WIRE + 3), bytes([3, 1, 1, 0]), b"\0\x05\x01\x01"]
    for _ in range(300):
        stream = b"".join(rng.choice(parts) for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.3:
            stream = bytes(rng.randrange(256) if rng.random() < 0.05 else b for b in stream)
        cuts = sorted(rng.sample(range(len(stream) + 1), min(len(stream) + 1, rng.randint(0, 6))))
        reference, compiled = ReferenceSplitter(), FrameSplitter()
        for a, b in zip([0] + cuts, cuts + [len(stream)]):
            assert compiled.split(stream[a:b]) == reference.split(stream[a:b]), (stream, cuts)


def test_read_splits_what_the_fd_has_and_says_when_it_has_nothing_or_ended():
    r, w = os.pipe()
    os.set_blocking(r, False)
    splitter, s = FrameSplitter(), sweep(6)
    try:
        assert splitter.read(r, 4096) == []  # nothing ready (EAGAIN)
        os.write(w, s[:9])
        assert splitter.read(r, 4096) == [(False, b"\0")]  # the frame's start held
        os.write(w, s[9:] + b">>> ")
        assert splitter.read(r, 5) == []  # a read smaller than what waits: the rest next
        assert splitter.read(r, 4096) == [(True, s[1:]), (False, b">>> ")]
        os.write(w, s[:20])
        assert splitter.read(r, 4096) == [(False, b"\0")]  # (after console text)
        assert splitter.flush() == s[1:20] and splitter.flush() == b""
        with pytest.raises(ValueError):
            splitter.read(r, 0)
        os.close(w)
        w = None
        assert splitter.read(r, 4096) is None  # the writer gone: the end
    finally:
        os.close(r)
        if w is not None:
            os.close(w)
    with pytest.raises(OSError):
        splitter.read(r, 4096)  # a closed fd


def test_a_read_that_fills_its_size_has_its_edge_triggered_fd_reported_again():
    """An fd registered with PORT_EVENTS is reported once when bytes come, not again for bytes
    left unread; with the epoll as its epfd, a read that took all of `size` (the fd may hold
    more) renews the registration, so the fd is reported while it has bytes: all are read."""
    poller = select.epoll()
    (r, w), (other, other_w) = os.pipe(), os.pipe()
    os.set_blocking(r, False)
    stream = b"".join(sweep(i) for i in range(5)) + b">>> "
    splitter = FrameSplitter()
    try:
        poller.register(r, PORT_EVENTS)
        os.write(w, stream)
        assert wait_ready(poller.fileno(), 0.0, 0.0) == [r]
        assert wait_ready(poller.fileno(), 0.0, 0.0) == []  # reported once: edge-triggered
        pairs = splitter.read(r, 10)  # (no epfd: nothing renewed)
        assert wait_ready(poller.fileno(), 0.0, 0.0) == []  # the rest is not reported
        splitter.epfd = poller.fileno()
        pairs += splitter.read(r, 10)  # it fills 10: it may have left some
        reads = 2
        while wait_ready(poller.fileno(), 0.0, 0.0) == [r]:
            reads += 1
            pairs += splitter.read(r, 10)
        assert reads == len(stream) // 10 + 1  # each full read reported again, until a short one
        assert pairs == ReferenceSplitter().split(stream)
        os.write(w, sweep(9))
        assert wait_ready(poller.fileno(), 0.0, 0.0) == [r]  # new bytes: reported
        os.write(other_w, b"xy")
        with pytest.raises(OSError):  # a read that fills its size, of an fd not registered there
            splitter.read(other, 1)
    finally:
        poller.close()
        for fd in (r, w, other, other_w):
            os.close(fd)


def test_wait_ready_sleeps_until_not_before_then_reports_or_waits_for_the_ready_fds():
    poller = select.epoll()
    (r1, w1), (r2, w2) = os.pipe(), os.pipe()
    try:
        for fd in (r1, r2):
            poller.register(fd, select.EPOLLIN)
        os.write(w2, b"x")
        start = time.monotonic()
        assert wait_ready(poller.fileno(), start + 0.05) == [r2]  # ready, but not before
        assert time.monotonic() - start >= 0.05
        os.write(w1, b"x")
        assert sorted(wait_ready(poller.fileno(), 0.0)) == sorted([r1, r2])
        os.read(r1, 1)
        os.read(r2, 1)
        threading.Timer(0.05, os.write, (w1, b"x")).start()
        start = time.monotonic()
        assert wait_ready(poller.fileno(), 0.0) == [r1]  # none ready: waits for one
        assert time.monotonic() - start >= 0.04
        os.read(r1, 1)
        start = time.monotonic()
        assert wait_ready(poller.fileno(), start + 0.02, 0.05) == []  # none ready: its timeout
        assert time.monotonic() - start >= 0.07
        threading.Timer(0.05, os.write, (w2, b"x")).start()
        assert wait_ready(poller.fileno(), 0.0, 5.0) == [r2]  # one ready before its timeout
    finally:
        poller.close()
        for fd in (r1, w1, r2, w2):
            os.close(fd)
    with pytest.raises(OSError):
        wait_ready(-1, 0.0)  # not an epoll instance (EBADF)
    for bad in (float("nan"), float("inf"), 1e300):
        with pytest.raises(ValueError):
            wait_ready(-1, bad)  # refused before any wait (the poller is closed here)
