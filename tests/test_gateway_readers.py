"""The gateway's rounds of reads (`ingest.PortReaders`, in the thread that processes what they
read: no thread of their own): every port's bytes reach the queue whole and in order, a failing
port is closed without stopping the others, stop closes all, another thread's wake returns a
waiting round."""
from __future__ import annotations

import os
import queue
import threading
import time

import pytest

from straja import protocol
from straja.gateway.ingest import IngestQueue, PortReader, PortReaders
from straja.serial_port import open_port


def frames(node_id: int, n: int) -> list[bytes]:
    """Sweep frames as the node writes them; each begins and ends with a delimiter."""
    return [protocol.encode_frame(protocol.Frame(0, node_id, i, i * 1000, protocol.Sweep(
        0, 0, i, 5645000, 2000, 500, 1000, 0, 8, bytes([node_id] * 8)))) for i in range(n)]


def take(q: IngestQueue, until, reading: PortReaders | None = None,
         timeout_s: float = 10.0) -> list[tuple]:
    """Items from q until until(items) holds, `reading`'s rounds read meanwhile (as the
    gateway's thread does; None: stopped, what is queued only)."""
    items: list[tuple] = []
    deadline = time.monotonic() + timeout_s
    while True:
        while not until(items):
            try:
                items.append(q.get())
            except queue.Empty:
                break
        if until(items):
            return items
        if reading is None or time.monotonic() > deadline:
            raise queue.Empty
        reading.round(0.05)


def queued(frames_sent: list[bytes]) -> bytes:
    """What the queue holds of these frames read all at once (it drops the delimiters that open
    frames once it knows where frames start): however the reads split them, the same."""
    q = IngestQueue(backlog=1 << 20)
    q.data("port", 0, b"".join(frames_sent))
    return bytes_of(take(q, lambda items: not q.waiting("port")), "port")


def bytes_of(items, path) -> bytes:
    return b"".join(d for k, p, _, d in items if k == "data" and p == path)


def two_ports(ptys, q):
    """(masters, paths, their readers, their rounds) of two ports read into q."""
    pairs = ptys(2)
    paths = [os.ttyname(slave) for _, slave in pairs]
    readers = {p: PortReader(p, open_port(p), q) for p in paths}
    reading = PortReaders()
    for reader in readers.values():
        reading.add(reader)
    return [m for m, _ in pairs], paths, readers, reading


def reads_on(q, master, path, reading) -> list[tuple]:
    """Frames written to `path` reach q whole: the reads go on."""
    sent = frames(3, 10)
    os.write(master, b"".join(sent))
    items = take(q, lambda items: len(bytes_of(items, path)) == len(queued(sent)), reading)
    assert bytes_of(items, path) == queued(sent)
    return items


def closed(path):
    return lambda items: ("close", path) in [(k, p) for k, p, _, _ in items]


@pytest.fixture
def ptys():
    made = []

    def make(n):
        for _ in range(n):
            made.append(os.openpty())
        return made[-n:]
    yield make
    for master, slave in made:
        for fd in (master, slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.mark.timeout(60)
def test_the_rounds_read_every_port_whole_and_in_order_in_no_thread_of_their_own(ptys):
    q = IngestQueue(backlog=1 << 20)
    reading = PortReaders()
    pairs = ptys(12)
    paths = [os.ttyname(slave) for _, slave in pairs]
    # the threads this test starts (another test's threads may still be ending meanwhile)
    threads_before = set(threading.enumerate())
    for path in paths:
        reading.add(PortReader(path, open_port(path), q))
    sent = {path: frames(i + 1, 200) for i, path in enumerate(paths)}
    for k in range(200):  # interleaved, as nodes send
        for (master, _), path in zip(pairs, paths):
            os.write(master, sent[path][k])
    want = {path: queued(f) for path, f in sent.items()}
    items = take(q, lambda items: all(len(bytes_of(items, p)) == len(want[p]) for p in paths),
                 reading)
    assert [p for k, p, _, _ in items if k == "open"] == paths  # each open before its data
    for path in paths:
        assert bytes_of(items, path) == want[path]
    assert not set(threading.enumerate()) - threads_before
    reading.stop()


@pytest.mark.timeout(60)
def test_a_port_that_fails_is_closed_and_the_others_go_on(ptys):
    q = IngestQueue(backlog=1 << 20)
    (m_gone, m_kept), (gone, kept), readers, reading = two_ports(ptys, q)
    os.close(m_gone)  # unplugged: its reads now fail (EIO)
    take(q, closed(gone), reading)
    assert not readers[gone].alive and readers[kept].alive
    reads_on(q, m_kept, kept, reading)
    reading.stop()
    take(q, closed(kept))
    assert not readers[kept].alive
    with pytest.raises(queue.Empty):  # one close a port, none for the port that failed earlier
        q.get()
    reading.stop()  # a second stop does nothing
    reading.wake()  # nor a wake after it


@pytest.mark.timeout(30)
def test_stop_before_any_read_closes_the_ports_added(ptys):
    q = IngestQueue(backlog=16)
    reading = PortReaders()
    reading.stop()  # nothing added: nothing to close
    with pytest.raises(queue.Empty):
        q.get()
    (_, slave), = ptys(1)
    path = os.ttyname(slave)
    reader = PortReader(path, open_port(path), q)
    late = PortReaders()
    late.add(reader)
    late.stop()
    kinds = [q.get()[0], q.get()[0]]
    assert kinds == ["open", "close"] and not reader.alive and not reader.port.is_open


@pytest.mark.timeout(30)
def test_a_wake_from_another_thread_returns_a_waiting_round(ptys):
    """A round waits for a port's bytes at most its timeout; another thread's wake (an item of
    a Remote ID companion queued, the gateway's stop) returns it at once, with no port read."""
    q = IngestQueue(backlog=16)
    (_, slave), = ptys(1)
    path = os.ttyname(slave)
    reading = PortReaders()
    q.wake = reading.wake
    reading.add(PortReader(path, open_port(path), q))
    assert take(q, lambda items: len(items) == 1)[0][:2] == ("open", path)
    reading.round(0.0)  # (the open's own wake-up)
    start = time.monotonic()
    assert not reading.round(0.1) and time.monotonic() - start >= 0.09  # its timeout
    threading.Timer(0.05, q.put, (("companion", "-", 1, b"{}"),)).start()
    start = time.monotonic()
    assert not reading.round(10.0)
    assert time.monotonic() - start < 5 and q.get()[0] == "companion"
    reading.stop()


@pytest.mark.timeout(30)
def test_a_port_closed_under_the_reader_is_dropped_and_the_others_go_on(ptys):
    """A port closed by something else (its fd gone) is unregistered by its number, not read."""
    q = IngestQueue(backlog=1 << 20)
    (m_gone, m_kept), (gone, kept), readers, reading = two_ports(ptys, q)
    take(q, lambda items: len(items) == 2, reading)  # both opens
    readers[gone].port.close()
    os.write(m_gone, b"x")  # (no reader now)
    os.close(m_gone)
    reads_on(q, m_kept, kept, reading)
    reading.stop()


class FailingSplitter:
    """A splitter that fails: a fault in the reads' own work on one port's bytes."""

    def read(self, fd, size):
        raise RuntimeError("a bug")

    def flush(self):
        return b""


@pytest.mark.timeout(30)
def test_a_fault_reading_one_port_closes_it_and_the_thread_reads_the_others(ptys, caplog):
    q = IngestQueue(backlog=1 << 20)
    (m_bad, m_kept), (bad, kept), readers, reading = two_ports(ptys, q)
    readers[bad].splitter = FailingSplitter()
    os.write(m_bad, b"".join(frames(1, 3)))
    take(q, closed(bad), reading)
    assert not readers[bad].alive and "reading " + bad + " failed" in caplog.text
    reads_on(q, m_kept, kept, reading)
    reading.stop()


class CountingReads(IngestQueue):
    """A queue that counts the rounds of reads queued, and the reads (ports) in them."""

    def __init__(self):
        super().__init__(backlog=1 << 20)
        self.rounds = self.ports_read = 0

    def reads(self, t_ns, reads):
        self.rounds += 1
        self.ports_read += len(reads)
        super().reads(t_ns, reads)


def write_later(master: int, chunks: list[bytes], gap_s: float) -> threading.Thread:
    """The chunks written gap_s apart, the first after gap_s, by a thread of its own."""
    def write():
        for chunk in chunks:
            time.sleep(gap_s)
            os.write(master, chunk)
    writer = threading.Thread(target=write)
    writer.start()
    return writer


@pytest.mark.timeout(30)
def test_frames_coming_within_the_read_interval_are_taken_in_one_read(ptys, monkeypatch):
    """A round waits until READ_INTERVAL_S after the last one began before it looks again:
    frames written meanwhile, one write each, wait in the kernel and come in one read, whole."""
    from straja.gateway import ingest
    monkeypatch.setattr(ingest, "READ_INTERVAL_S", 0.5)
    q = CountingReads()
    (master, slave), = ptys(1)
    path = os.ttyname(slave)
    reading = PortReaders()
    reading.add(PortReader(path, open_port(path), q))
    sent = frames(2, 5)
    os.write(master, sent[0])
    take(q, lambda items: len(bytes_of(items, path)) == len(queued(sent[:1])), reading)
    assert q.ports_read == 1
    began = time.monotonic()  # (the round that read it began before)
    writer = write_later(master, sent[1:], 0.01)  # inside the interval
    rest = queued(sent)[len(queued(sent[:1])):]
    items = take(q, lambda items: len(bytes_of(items, path)) == len(rest), reading)
    assert time.monotonic() - began >= 0.4
    assert q.ports_read == 2 and bytes_of(items, path) == rest
    writer.join()
    reading.stop()


@pytest.mark.timeout(30)
def test_a_round_of_reads_is_queued_at_once(ptys, monkeypatch):
    """The ports ready in a round are read, then queued in one call (one taking of the lock),
    whole and in order."""
    from straja.gateway import ingest
    monkeypatch.setattr(ingest, "READ_INTERVAL_S", 0.5)
    q = CountingReads()
    pairs = ptys(3)
    paths = [os.ttyname(slave) for _, slave in pairs]
    reading = PortReaders()
    for path in paths:
        reading.add(PortReader(path, open_port(path), q))
    sent = {path: frames(i + 5, 4) for i, path in enumerate(paths)}
    os.write(pairs[0][0], sent[paths[0]][0])
    take(q, lambda items: len(bytes_of(items, paths[0])) == len(queued(sent[paths[0]][:1])),
         reading)
    for (master, _), path in zip(pairs, paths):  # inside the interval that began with that read
        os.write(master, b"".join(sent[path][1:] if path == paths[0] else sent[path]))
    items = take(q, lambda items: all(len(bytes_of(items, p)) == len(queued(sent[p])) - (
        len(queued(sent[p][:1])) if p == paths[0] else 0) for p in paths), reading)
    assert (q.rounds, q.ports_read) == (2, 4)
    assert bytes_of(items, paths[1]) == queued(sent[paths[1]])
    reading.stop()


@pytest.mark.timeout(60)
def test_a_port_s_bytes_beyond_one_read_are_all_read_with_nothing_more_sent(ptys, monkeypatch):
    """The ports are edge-triggered (reported when bytes come, not for bytes left unread): a
    port's bytes that one read does not take are still read, in the next rounds, with no new
    bytes to report them. Bytes beyond the read's size (READ_SIZE made small here), and beyond
    what a tty's line discipline hands over at once (4 KiB: the kernel reports the rest as it
    hands it on)."""
    from straja.gateway import ingest
    q = IngestQueue(backlog=1 << 20)
    (m_small, m_big), (small, big), readers, reading = two_ports(ptys, q)
    take(q, lambda items: len(items) == 2, reading)  # both opens
    # 1 020 and 10 200 bytes (a pty holds 12 KiB: 4 in its line discipline, 8 before it)
    beyond_read, beyond_tty = frames(1, 20), frames(2, 200)
    monkeypatch.setattr(ingest, "READ_SIZE", 16)
    os.write(m_small, b"".join(beyond_read))
    items = take(q, lambda items: len(bytes_of(items, small)) == len(queued(beyond_read)),
                 reading)
    assert bytes_of(items, small) == queued(beyond_read)
    monkeypatch.undo()
    os.write(m_big, b"".join(beyond_tty))
    items = take(q, lambda items: len(bytes_of(items, big)) == len(queued(beyond_tty)), reading)
    assert bytes_of(items, big) == queued(beyond_tty)
    reading.stop()


@pytest.mark.timeout(30)
def test_a_frame_cut_by_an_unplug_is_queued_before_the_close(ptys):
    """Every byte read reaches the queue: the start of a frame held for its end when the port
    fails is queued as it is, before the port's close (not glued to a later open's bytes)."""
    q = IngestQueue(backlog=1 << 20)
    (m_gone, m_kept), (gone, kept), readers, reading = two_ports(ptys, q)
    whole, cut = frames(1, 2)
    os.write(m_gone, whole + cut[:12])
    take(q, lambda items: len(bytes_of(items, gone)) == len(queued([whole])), reading)
    os.close(m_gone)
    items = take(q, closed(gone), reading)
    assert [(k, d) for k, p, _, d in items if p == gone] == [("data", cut[1:12]), ("close", b"")]
    reads_on(q, m_kept, kept, reading)
    reading.stop()


def test_a_round_s_items_are_taken_at_once_in_order_without_those_dropped():
    """`take_all`: what a round queued, oldest first, under one taking of the lock, the items
    the backlog dropped left out, and the queue empty after (its backlog counts start again)."""
    q = IngestQueue(backlog=2)
    q.put(("open", "a", 1, b""))
    sweeps = [(True, f) for f in frames(3, 3)]
    q.reads(2, [("a", sweeps), ("b", [(False, b"status\0")])])
    assert q.take_all() == [["open", "a", 1, b""], ["data", "a", 2, sweeps[1][1]],
                            ["data", "a", 2, sweeps[2][1]], ["data", "b", 2, b"status\0"]]
    assert q.take_all() == [] and q.waiting("a") == 0 and q.dropped == {"a": 1}
    q.reads(3, [("a", sweeps[:2])])  # a backlog of its own: nothing dropped
    assert [item[3] for item in q.take_all()] == [f for _, f in sweeps[:2]]


def test_the_gateway_s_take_handles_what_is_queued_while_it_handles():
    """`Gateway.take` takes a round's items at once; an item another thread queues while they
    are handled is handled in the same take, after them."""
    from straja.gateway import config
    from straja.gateway.ingest import Gateway
    from straja.gateway.pipeline import Pipeline
    cfg = config.GatewayConfig(ports=(), discover=False)
    gw = Gateway(cfg, Pipeline(cfg))
    handled = []
    handle = gw.handle

    def record(kind, path, t_ns, data):
        handled.append((kind, path))
        if path == "first":
            gw.queue.put(("close", "meanwhile", t_ns, b""))
        return handle(kind, path, t_ns, data)
    gw.handle = record
    gw.queue.put(("open", "first", 1, b""))
    gw.queue.put(("close", "second", 2, b""))
    assert gw.take() and not gw.take()
    assert handled == [("open", "first"), ("close", "second"), ("close", "meanwhile")]
    gw.reading.stop()


def test_the_rounds_cadence_follows_the_chunks_a_second_they_read():
    """`ReadCadence`: READ_INTERVAL_S until a window of RATE_WINDOW_S has passed, then the
    window's chunks a second decide: BUSY_READ_INTERVAL_S from BUSY_CHUNKS_S on, READ_INTERVAL_S
    under it (a fleet that shrinks is read at the short interval again)."""
    from straja.gateway import ingest
    cadence = ingest.ReadCadence()
    window, busy = ingest.RATE_WINDOW_S, ingest.BUSY_CHUNKS_S
    rounds = 200
    for i in range(rounds + 1):  # exactly the busy rate: a window's chunks over its length
        cadence.count(i * window / rounds, int(busy * window / rounds) if i else 0)
        assert cadence.interval == (ingest.BUSY_READ_INTERVAL_S if i == rounds
                                    else ingest.READ_INTERVAL_S)
    for i in range(1, rounds + 1):  # one chunk a round fewer: under it
        cadence.count(window + i * window / rounds, int(busy * window / rounds) - 1)
    assert cadence.interval == ingest.READ_INTERVAL_S
    assert ingest.BUSY_READ_INTERVAL_S > ingest.READ_INTERVAL_S


@pytest.mark.timeout(30)
def test_a_busy_fleet_s_rounds_are_the_busy_interval_apart(ptys, monkeypatch):
    """PortReaders.round counts each round's chunks into its cadence and waits its interval:
    once the rounds read BUSY_CHUNKS_S a second over a window, the next round begins
    BUSY_READ_INTERVAL_S after the one before."""
    from straja.gateway import ingest
    monkeypatch.setattr(ingest, "READ_INTERVAL_S", 0.01)
    monkeypatch.setattr(ingest, "BUSY_READ_INTERVAL_S", 0.4)
    monkeypatch.setattr(ingest, "BUSY_CHUNKS_S", 5.0)
    monkeypatch.setattr(ingest, "RATE_WINDOW_S", 0.1)
    q = IngestQueue(backlog=1 << 20)
    (master, slave), = ptys(1)
    path = os.ttyname(slave)
    reading = PortReaders()
    reading.add(PortReader(path, open_port(path), q))
    sent = frames(4, 4)

    def read_one(frame):
        os.write(master, frame)
        begun = time.monotonic()
        assert reading.round(5.0)
        return begun
    read_one(sent[0])  # the window starts
    time.sleep(0.12)
    read_one(sent[1])  # 2 chunks in 0.12 s: busy from the round after this one
    assert reading.cadence.interval == 0.4
    read_one(sent[2])  # (its time was set by the round before, at 0.01 s)
    began = time.monotonic()
    read_one(sent[3])
    assert time.monotonic() - began >= 0.35
    reading.stop()


def test_a_ports_backlog_starts_empty_again_once_the_queue_is_taken():
    """take_all leaves every port's backlog empty (the queue keeps a port's deques and clears
    them): the next reads of `backlog` items of the port drop nothing, and past it the port's
    oldest waiting sweeps go first, its other items and other ports' kept, in order."""
    q = IngestQueue(backlog=3)

    def sweep(i):
        return True, bytes([i])
    q.reads(1, [("/dev/a", [sweep(1), sweep(2), sweep(3)])])
    assert q.waiting("/dev/a") == 3
    assert [item[3] for item in q.take_all()] == [b"\x01", b"\x02", b"\x03"]
    assert q.waiting("/dev/a") == 0
    q.reads(2, [("/dev/a", [sweep(4), sweep(5), sweep(6)]), ("/dev/b", [(False, b"x")])])
    assert q.dropped == {}
    q.reads(3, [("/dev/a", [(False, b"y"), sweep(7)])])  # 5 of /dev/a's would wait: 2 dropped
    assert q.dropped == {"/dev/a": 2}
    assert [(port, data) for _, port, _, data in q.take_all()] == [
        ("/dev/a", b"\x06"), ("/dev/b", b"x"), ("/dev/a", b"y"), ("/dev/a", b"\x07")]
    assert q.waiting("/dev/a") == q.waiting("/dev/b") == 0 and q.take_all() == []
