"""The gateway's log: a start line, ports, nodes, MQTT connection state and alerts on stderr at
their levels, with syslog priorities under systemd (journald), and --log-level."""
from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from straja.gateway import events as ev
from straja.gateway import logs
from straja.gateway.events import Stored

STRAJA = str(Path(sys.executable).with_name("straja"))


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gateway_logs_start_port_node_and_mqtt_to_the_journal(firmware_node, tmp_path):
    """Under systemd (JOURNAL_STREAM set) each line carries its syslog priority."""
    env = dict(os.environ, JOURNAL_STREAM="8:12345")
    done = subprocess.run(
        [STRAJA, "gateway", "--port", firmware_node.port, "--no-discover", "--duration", "4",
         "--db", str(tmp_path / "gw.db"), "--mqtt-host", "127.0.0.1", "--mqtt-port",
         str(free_tcp_port())], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert any(line.startswith("<6>straja.gateway: gateway gateway starting: ports "
                               f"{firmware_node.port};") for line in lines), lines
    assert any(line.startswith("<6>straja.gateway: port_opened: port=" + firmware_node.port)
               for line in lines), lines
    assert any(line.startswith("<6>straja.gateway: node_online: node_id=7") for line in lines)
    assert any(line.startswith("<4>straja.gateway.mqtt: cannot reach the broker 127.0.0.1:")
               for line in lines), lines
    assert sum("cannot reach the broker" in line for line in lines) == 1  # not once per retry
    assert not any("node_stats" in line for line in lines)  # debug only


def alert(kind=ev.AlertRaised) -> ev.AlertEvent:
    return kind(t_ns=1, track_id="t1", family="video", lo_khz=5_790_000, hi_khz=5_810_000,
                first_ns=1, last_ns=2, hits=5, nodes=(ev.TrackNode(1, -60.0, 1, 2),),
                alert_id="a1", severity="high", trend="closing", since_ns=1, label="FPV video",
                text="FPV video at 5800 MHz, closing")


def stats() -> ev.NodeStats:
    return ev.NodeStats(t_ns=1, node_id=3, online=True, frames=10, lost=0, restarts=0,
                        clock_offset_ns=None, uptime_s=5, mem_free=1000, overruns=0,
                        frames_dropped=0, firmware="0.4")


def logged(level: str, *events) -> str:
    out = io.StringIO()
    logs.setup(level, out)
    try:
        logs.event_sink([Stored(e, i) for i, e in enumerate(events)])
    finally:
        logging.getLogger("straja").handlers.clear()
    return out.getvalue()


def test_alerts_are_warnings_with_their_text_and_stats_only_at_debug(monkeypatch):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    text = logged("info", alert(), alert(ev.AlertCleared), stats())
    assert " WARNING straja.gateway: alert_raised: FPV video at 5800 MHz, closing\n" in text
    assert " INFO straja.gateway: alert_cleared: FPV video" in text
    assert "node_stats" not in text
    assert "DEBUG straja.gateway: node_stats: node_id=3 online=True frames=10" in \
        logged("debug", stats())
    assert logged("warning", alert(ev.AlertCleared), stats()) == ""


def test_log_level_is_checked_while_parsing():
    done = subprocess.run([STRAJA, "gateway", "--log-level", "loud"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--log-level" in done.stderr


def test_what_a_node_sent_cannot_forge_a_log_line_or_drive_the_terminal(monkeypatch):
    """A Remote ID operator ID is ASCII a node chose (hard2): its newline made two log lines,
    the second one of the node's writing, and its ESC sequences reached the terminal."""
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    forged = "x\n2026-12-06 22:00:00,000 WARNING straja.gateway: alert_raised: fake\x1b[2J\u202e"
    seen = ev.RidSeen(t_ns=1, uas_id="D1", address="", latitude=None, longitude=None,
                      altitude_geo=None, speed=None, operator_latitude=None,
                      operator_longitude=None, operator_id=forged, first_ns=1, last_seen_ns=1,
                      receivers={}, plausible=True, reasons=())
    text = logged("info", seen)
    assert text.count("\n") == 1 and "\x1b" not in text and "\u202e" not in text
    assert r"operator_id=x\n2026-12-06 22:00:00,000 WARNING" in text
    assert r"fake\x1b[2J\u202e" in text
