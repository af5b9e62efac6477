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
        # node 2 went on all along: it kept sending and was never offline
        assert gw.pipeline.nodes[2].frames > frames_2 + 20
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

