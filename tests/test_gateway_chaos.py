"""Fault injection (issue 14; `make chaos`, and part of `make test`): a real `straja gateway`
process on three virtual nodes (the real firmware) watching a drone, with SQLite and MQTT (a real
mosquitto), while a hostile node on a pty sends crafted frames, nodes halt at the REPL and lose
power, the broker and then the gateway are killed with SIGKILL during the alert, and a deploy is
cut by a power cut while its files are staged.

Per fault: tried, survived (the gateway process still runs, or its successor does, and every
node streams again), lost (events the store had, or the broker acknowledged, that are gone). The
table is printed at the end and written as JSON (to $CHAOS_REPORT, else the test's folder).
Nothing acknowledged may be lost, every node must stream at the end, and the gateway never exits
by itself."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from straja import protocol
from straja.link import NodeLink
from straja.paths import FIRMWARE
from straja.tools.deploy import Deployer
from straja.vnode.cli import start_fleet
from test_gateway_mqtt import Broker, Subscriber, free_port, wait_for

pytestmark = pytest.mark.chaos
S = 1_000_000_000
FOCUS_REFRESH_S = 2  # a focus plan lapses 3 refreshes (6 s) after the gateway's last


class Gateway:
    """`straja gateway` as the service runs it, in its own process."""

    def __init__(self, tmp, ports, mqtt_port):
        self.db = tmp / "gw.db"
        self.conf = tmp / "gateway.toml"
        self.conf.write_text(
            f'[gateway]\ngateway_id = "chaos"\nstats_interval_s = 1.0\nquarantine_s = 3.0\n'
            f'db = "{self.db}"\n[alerts]\nfocus_refresh_s = {FOCUS_REFRESH_S}\n'
            f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\nkeepalive_s = 2\n')
        self.args = [sys.executable, "-m", "straja.cli", "gateway", "--config", str(self.conf),
                     "--no-discover"] + [a for p in ports for a in ("--port", p)]
        self.log = open(tmp / "gateway.log", "ab")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log)

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self):
        """A clean stop (systemd's SIGTERM), as a technician does before a deploy."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)

    def query(self, sql, *args):
        """Rows of the gateway's store, read-only; none before the gateway made it."""
        try:
            db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        except sqlite3.OperationalError:
            return []
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # (the schema not made yet)
            return []
        finally:
            db.close()

    def events(self, kind=None, since_ns=0):
        rows = self.query("SELECT payload FROM events WHERE t_ns >= ? AND (? IS NULL OR kind = ?) "
                          "ORDER BY id", since_ns, kind, kind)
        return [json.loads(p) for (p,) in rows]

    def streaming(self, node_ids, since_ns) -> bool:
        """Every node's frame count grew between two node_stats taken after since_ns."""
        stats = self.events("node_stats", since_ns)
        for node_id in node_ids:
            mine = [s for s in stats if s["node_id"] == node_id and s["online"]]
            if len(mine) < 2 or mine[-1]["frames"] <= mine[0]["frames"]:
                return False
        return True


class Hostile:
    """A fake node on a pty: crafted frames, as a broken or hostile device would send."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        self.port = os.ttyname(self.slave)
        self.seq = 0

    def send(self, node_id, body):
        self.seq = (self.seq + 1) & 0xFFFF
        os.write(self.master, protocol.encode_frame(
            protocol.Frame(0, node_id, self.seq, self.seq * 1000, body)))

    def status(self, node_id, boot_count):
        self.send(node_id, protocol.Status(1, boot_count, 0, 1, 100_000, 50_000, 0, 0, 0, 0, "x"))

    def close(self):
        os.close(self.master)
        os.close(self.slave)


CRAFTED = {
    "deep_reply": lambda h: h.send(90, protocol.Reply(1, 0, "[" * 900 + "]" * 900)),
    "bad_info": lambda h: h.send(90, protocol.Reply(2, 0, json.dumps({"front_ends": [1, {"kind": {}}]}))),
    "restart_flood": lambda h: [h.status(90, b) for b in range(300)],
    "command_failed_flood": lambda h: [h.send(90, protocol.Reply(3, 5, "no")) for _ in range(300)],
    "spoofed_ids": lambda h: [h.status(1000 + i, 1) for i in range(2000)],
    "node_id_takeover": lambda h: [h.status(1, 7) for _ in range(20)],
}


@pytest.mark.timeout(300)
def test_gateway_survives_injected_faults_and_loses_nothing_acknowledged(tmp_path):
    report = {}
    broker = Broker(tmp_path, free_port())
    broker.start()
    sub = Subscriber(broker.port, "straja/v1/site/chaos/events/#")
    # an EU868 link: its hop set is narrower than the sub-GHz sweep, so the neighbours of the
    # node that alerts first get a focus plan (gateway/scanplan.py), which the gateway's kill
    # below must leave to lapse by itself
    scene, fleet = start_fleet(3, "elrs_868_alone", workdir=tmp_path / "fleet")
    node_ids = [n.spec.node_id for n in fleet.nodes]
    hostile = Hostile()
    gw = Gateway(tmp_path, [n.port for n in fleet.nodes] + [hostile.port], broker.port)
    exits = []

    def record(fault, tried, survived, lost=0):
        report[fault] = {"tried": tried, "survived": survived, "lost": lost}

    def recovered(since_ns, timeout=40):
        if gw.proc.poll() is not None:
            exits.append(gw.proc.returncode)
            return False
        return wait_for(lambda: gw.streaming(node_ids, since_ns), timeout) and gw.proc.poll() is None

    try:
        assert recovered(time.time_ns(), 60), "the nodes never streamed"
        # crafted frames from the hostile port
        for name, inject in CRAFTED.items():
            t = time.time_ns()
            inject(hostile)  # (it never reads what the gateway sends it: that must not block)
            record(name, 1, int(recovered(t)))
        # each crafted input had its effect, and the floods were coalesced, not stored one by one
        seen = {e["kind"] for e in gw.events()}
        assert {"reply_rejected", "node_id_conflict", "node_refused"} <= seen
        # the floods' counts come when their windows end (event_window_s)
        assert wait_for(lambda: {"node_restarted", "command_failed", "node_refused"} <= {
            e["event_kind"] for e in gw.events("events_coalesced")}, 15)
        assert len(gw.events("node_refused")) < 50 and len(gw.events("node_restarted")) < 50
        # a stray Ctrl-C halts each node's app at the REPL; the gateway soft-resets it
        t = time.time_ns()
        for n in fleet.nodes:
            fd = os.open(n.port, os.O_WRONLY | os.O_NOCTTY)
            os.write(fd, b"\x03")
            os.close(fd)
        record("node_halted_at_repl", len(node_ids), len(node_ids) * recovered(t))
        assert {e["node_id"] for e in gw.events("node_recovery", t)} == set(node_ids)
        # power cuts: each node's interpreter killed, it boots again (idle: the gateway restarts it)
        t = time.time_ns()
        for n in fleet.nodes:
            n.node.power_cut()
        record("node_power_cut", len(node_ids), len(node_ids) * recovered(t))
        # the broker killed and restarted: the outbox waits, nothing is lost
        t = time.time_ns()
        broker.kill()
        time.sleep(2)
        broker.start()
        record("broker_kill_9", 1, int(recovered(t)))
        # the gateway killed during the alert, while nodes run its (temporary) focus plans
        assert wait_for(lambda: gw.events("scan_focus"), 60), "no focus plan during the alert"
        focused = {e["node_id"]: e["plan"] for e in gw.events("scan_focus")}
        stored_before = gw.query("SELECT id, payload FROM events ORDER BY id")
        gw.kill()
        time.sleep(3 * FOCUS_REFRESH_S + 1)
        reverted = []
        for n in fleet.nodes:  # each node went back to its own plan by itself
            link = NodeLink(n.port)
            try:
                reverted.append(link.call("get", "plan", timeout=5)["temp_plan_s"] == 0)
            finally:
                link.close()
        t = time.time_ns()
        gw.start()
        survived = recovered(t)
        kept = gw.query("SELECT id, payload FROM events WHERE id <= ? ORDER BY id",
                        stored_before[-1][0])
        record("gateway_kill_9", 1, int(survived and all(reverted)),
               len(set(stored_before) - set(kept)))
        # the next gateway never takes a focus plan for a node's normal plan
        normal = dict(gw.query("SELECT node_id, plan FROM node_plans"))
        assert all(json.loads(normal[n]) != plan for n, plan in focused.items() if n in normal)
        assert all(json.loads(normal[n]) == [] for n in node_ids if n in normal)
        # a deploy cut by a power cut while its files are staged (the gateway stopped for the
        # deploy): the node boots its previous firmware and the next gateway has it streaming
        gw.stop()
        target, cuts = fleet.nodes[0], []

        def cut_when_staged(name, detail=None):
            if name == "staged" and not cuts:
                cuts.append(name)
                target.node.power_cut()
                time.sleep(0.2)

        deployed = Deployer(FIRMWARE, force=True, on_event=cut_when_staged).deploy(target.port)
        t = time.time_ns()
        gw.start()
        record("deploy_cut", 1, int(bool(cuts) and deployed.status in ("failed", "deployed")
                                    and recovered(t)))
        # MQTT: everything stored reaches the subscriber once the outbox is empty
        assert wait_for(lambda: gw.query("SELECT COUNT(*) FROM mqtt_outbox") == [(0,)], 60)
        stored_ids = {i for (i,) in gw.query("SELECT id FROM events")}
        assert wait_for(lambda: stored_ids <= {e["id"] for _, e in sub.events()}, 30), \
            gw.query("SELECT id, t_ns, kind FROM events WHERE id IN (%s)" % ",".join(
                str(i) for i in sorted(stored_ids - {e["id"] for _, e in sub.events()})))
        report["mqtt"] = {"tried": len(stored_ids), "survived": len(stored_ids),
                          "lost": len(stored_ids - {e["id"] for _, e in sub.events()})}
    finally:
        still_running = gw.proc.poll() is None
        if still_running:
            gw.proc.send_signal(signal.SIGTERM)
            gw.proc.wait(timeout=20)
        sub.client.loop_stop()
        sub.client.disconnect()
        broker.stop()
        fleet.stop()
        hostile.close()
        _write_report(report, tmp_path)
    assert still_running and not exits, f"the gateway exited by itself: {exits}"
    assert all(r["survived"] == r["tried"] and r["lost"] == 0 for r in report.values()), report


def _write_report(report: dict, tmp_path) -> None:
    path = os.environ.get("CHAOS_REPORT") or str(tmp_path / "chaos-report.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    lines = [f"{'fault':<24}{'tried':>7}{'survived':>10}{'lost':>6}"]
    lines += [f"{k:<24}{v['tried']:>7}{v['survived']:>10}{v['lost']:>6}" for k, v in report.items()]
    print("\n" + "\n".join(lines) + f"\n(report: {path})")
