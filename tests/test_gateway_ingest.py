"""Live ingestion on pseudo-terminals: a node unplugged and plugged back under a new device path
is read again within 2 s, matched by node id, while the other node never stops."""
from __future__ import annotations

import os
import threading
import time

import pytest

from straja.gateway import config, events as ev
from straja.testing import synth
from straja.gateway.ingest import Gateway
from straja.gateway.pipeline import Pipeline
from test_gateway_mqtt import wait_for


class PtyNode:
    """A fake node: frames written to the master side of a pty whose slave is reached through
    a symlink (as udev's /dev/serial/by-id/ links); unplug closes the pty, plug makes a new one."""

    def __init__(self, node_id: int, folder):
        self.node_id = node_id
        self.folder = folder
        self.link = None
        self.master = self.slave = -1
        self.plugs = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.chunks = [c.data for c in synth.node_chunks(node_id, [], t0_ns=0, duration_s=60)]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def plug(self):
        with self._lock:
            self.master, self.slave = os.openpty()
            self.plugs += 1
            self.link = self.folder / f"tty-node{self.node_id}-{self.plugs}"
            self.link.symlink_to(os.ttyname(self.slave))
        return str(self.link)

    def unplug(self):
        with self._lock:
            os.close(self.master)
            os.close(self.slave)
            self.link.unlink()
            self.master = -1

    def _run(self):
        i = 0
        while not self._stop.is_set() and i < len(self.chunks):
            with self._lock:
                if self.master >= 0:
                    try:
                        os.write(self.master, self.chunks[i])
                        i += 1
                        os.set_blocking(self.master, False)
                        try:
                            os.read(self.master, 4096)  # the gateway's commands
                        except BlockingIOError:
                            pass
                    except OSError:
                        pass
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self.thread.join(timeout=2)


@pytest.mark.timeout(60)
def test_replugged_node_is_read_again_within_2_s_on_a_new_path(tmp_path):
    cfg = config.GatewayConfig(ports=(str(tmp_path / "tty-*"),), discover=False, rescan_s=0.25,
                               heartbeat_timeout_s=10.0)
    events = []
    gw = Gateway(cfg, Pipeline(cfg), sinks=[events.extend])
    nodes = [PtyNode(1, tmp_path), PtyNode(2, tmp_path)]
    for n in nodes:
        n.plug()
        n.thread.start()
    runner = threading.Thread(target=gw.run, daemon=True)
    runner.start()
    try:
        assert wait_for(lambda: len(_online(events)) >= 2, 5)
        frames_2 = gw.pipeline.nodes[2].frames
        nodes[0].unplug()
        time.sleep(1.0)
        new_path = nodes[0].plug()
        t_plug = time.time_ns()
        assert wait_for(lambda: any(e.port == new_path for e in _online(events)), 5)
        back = next(e for e in _online(events) if e.port == new_path)
        assert back.node_id == 1
        assert back.t_ns - t_plug < 2_000_000_000
        # node 2 went on all along: it kept sending and was never offline (a chunk every 50 ms:
        # the 1 s unplugged alone is about 20 of them, so the count is awaited, not sampled)
        assert wait_for(lambda: gw.pipeline.nodes[2].frames > frames_2 + 20, 5)
        assert not _of(events, ev.NodeOffline)
        assert [e.node_id for e in _of(events, ev.PortClosed)] == [1]
    finally:
        gw.stop()
        runner.join(timeout=5)
        for n in nodes:
            n.stop()


def _of(stored, cls):
    return [s.event for s in stored if isinstance(s.event, cls)]


def _online(stored):
    return _of(stored, ev.NodeOnline)



class StalledPipeline(Pipeline):
    """A gateway that falls behind: while `go` is clear it handles nothing (the test, not the
    machine's load, decides how far behind it falls); it keeps what it is fed."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.go = threading.Event()
        self.go.set()
        self.fed: list[bytes] = []

    def feed(self, source, t_ns, data):
        self.go.wait(30)
        self.fed.append(data)
        return super().feed(source, t_ns, data)


@pytest.mark.timeout(60)
def test_a_gateway_that_falls_behind_drops_oldest_sweeps_counts_them_and_says_so(tmp_path):
    """A node's first sweep, then 2000 more written at once to a gateway stalled meanwhile (they
    pile up in the kernel, the writer blocked once its buffer is full): after the stall the
    port's backlog never passes port_backlog, the oldest sweeps of each read beyond it are
    dropped, the gateway handles the rest in order up to the last, the dropped ones are in
    overload events naming the node, and every sweep is either processed or counted there."""
    from straja import protocol

    master, slave = os.openpty()
    path = os.ttyname(slave)
    cfg = config.GatewayConfig(ports=(path,), discover=False, port_backlog=16, event_window_s=0.5)
    stored = []
    pipeline = StalledPipeline(cfg)
    gw = Gateway(cfg, pipeline, sinks=[stored.extend])
    runner = threading.Thread(target=gw.run, daemon=True)
    runner.start()
    n = 2001
    frames = [protocol.encode_frame(protocol.Frame(0, 5, i, i * 1000, protocol.Sweep(
        0, 0, i, 5645000, 2000, 500, 1000, 0, 8, bytes(8)))) for i in range(n)]

    def write_all(data):
        data = memoryview(data)
        while data:
            data = data[os.write(master, data):]

    peak = 0
    try:
        assert wait_for(lambda: path in gw.readers, 5)
        write_all(frames[0])
        assert wait_for(lambda: gw.pipeline.counts["frames"] == 1, 10)  # the node is known
        pipeline.go.clear()
        writer = threading.Thread(target=write_all, args=(b"".join(frames[1:]),), daemon=True)
        writer.start()
        assert wait_for(lambda: len(pipeline.fed) == 2, 10)  # stalled on the next one
        time.sleep(0.5)  # the rest piles up meanwhile
        pipeline.go.set()

        def done():
            nonlocal peak
            peak = max(peak, gw.queue.waiting(path))
            dropped = sum(e.dropped for e in _of(stored, ev.Overload))
            return gw.pipeline.counts["frames"] + dropped >= n
        assert wait_for(done, 30)
        writer.join(timeout=5)
    finally:
        pipeline.go.set()
        gw.stop()
        runner.join(timeout=5)
        os.close(master)
        os.close(slave)
    overloads = _of(stored, ev.Overload)
    assert overloads and all(e.port == path and e.node_id == 5 for e in overloads)
    assert gw.pipeline.counts["frames"] + sum(e.dropped for e in overloads) == n
    assert sum(e.dropped for e in overloads) >= n // 2
    # the oldest went (a sweep is queued from its delimiter on: without the one it began with;
    # the stream's first delimiter goes alone): what was fed is the frames in order, the last
    # among them
    order = {f[1:]: i for i, f in enumerate(frames)}
    assert [f for f in pipeline.fed if f not in order] == [b"\0"]
    fed = [order[f] for f in pipeline.fed if f in order]
    assert fed == sorted(set(fed)) and fed[-1] == n - 1
    assert peak <= cfg.port_backlog


@pytest.mark.timeout(30)
def test_an_item_another_thread_queues_is_handled_at_once_with_no_port_ready(tmp_path):
    """The gateway's one thread waits in the kernel for its ports; an item another thread
    queues (a Remote ID companion's line) wakes it: handled within ms, not at the next tick."""
    cfg = config.GatewayConfig(ports=(), discover=False)
    gw = Gateway(cfg, Pipeline(cfg))
    handled = []
    handle = gw.handle

    def record(kind, path, t_ns, data):
        handled.append((kind, time.monotonic()))
        return handle(kind, path, t_ns, data)
    gw.handle = record
    runner = threading.Thread(target=gw.run, daemon=True)
    runner.start()
    try:
        time.sleep(0.3)  # waiting
        put_at = time.monotonic()
        gw.queue.put(("close", "/dev/none", time.time_ns(), b""))
        assert wait_for(lambda: any(k == "close" for k, _ in handled), 5)
        assert next(t for k, t in handled if k == "close") - put_at < 0.05
    finally:
        gw.stop()
        runner.join(timeout=5)
    assert not runner.is_alive()


@pytest.mark.timeout(30)
def test_a_node_that_never_reads_its_input_does_not_block_the_gateway():
    """Commands to a hung or hostile node that reads nothing fill its port's buffer: further
    writes are dropped at once, not waited on by the processing thread that serves every node."""
    from straja.gateway.ingest import IngestQueue, PortReader
    from straja.serial_port import open_port

    master, slave = os.openpty()
    try:
        reader = PortReader(os.ttyname(slave), open_port(os.ttyname(slave)), IngestQueue(16))
        started = time.monotonic()
        for _ in range(20_000):  # 20k command lines: far more than a pty buffers
            reader.send("info")
        assert time.monotonic() - started < 5
    finally:
        reader.port.close()
        os.close(master)
        os.close(slave)


def test_a_command_no_line_holds_is_not_sent_and_the_gateway_goes_on(caplog):
    """A plan a hostile node's `get plan` reply stored (40 entries), sent back as the gateway's
    restore: longer than MAX_LINE, it is said and dropped (it raised out of the gateway's one
    thread: the whole gateway stopped; hard2)."""
    from straja.gateway.ingest import IngestQueue, PortReader
    from straja.protocol import MAX_LINE
    from straja.serial_port import open_port

    master, slave = os.openpty()
    try:
        reader = PortReader(os.ttyname(slave), open_port(os.ttyname(slave)), IngestQueue(16))
        for _ in range(100):  # (a hostile node's replies make one at will: said once)
            reader.send("plan", "[" + ",".join(['{"front_end": "vid58"}'] * 60) + "]")
        reader.send("info")
        time.sleep(0.1)
        assert os.read(master, 4096).endswith(b" info\n")
        assert caplog.text.count(f"exceeds MAX_LINE ({MAX_LINE})") == 1
    finally:
        reader.port.close()
        os.close(master)
        os.close(slave)


def test_a_port_that_cannot_be_opened_is_warned_once_and_read_once_it_can(tmp_path, caplog):
    """A named port that is not there (a node not plugged in yet, a typo) is said at warning
    level with its fix, once for each reason however many rescans try it, and said again to
    have opened when it appears (debug only before: a technician saw nothing)."""
    path = tmp_path / "tty-node"
    cfg = config.GatewayConfig(ports=(str(path),), discover=False)
    gw = Gateway(cfg, Pipeline(cfg))
    caplog.set_level("INFO", logger="straja.gateway")
    for _ in range(3):
        gw.scan_ports()
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [r.getMessage() for r in warned] == [
        f"no such port: {path} (fix: check the cable; `straja ports` lists the ports); tried "
        "again every 0.25 s"]
    device, node_end = os.openpty()
    os.symlink(os.ttyname(node_end), path)
    try:
        gw.scan_ports()
        assert str(path) in gw.readers
        assert caplog.records[-1].getMessage() == f"{path} opened"
    finally:
        gw.reading.stop()
        for reader in gw.readers.values():
            reader.port.close()
        os.close(device)
        os.close(node_end)
