"""`straja monitor` against a virtual node running the real firmware."""
import json
import subprocess
import sys
from pathlib import Path

import serial

from straja import protocol
from straja.gateway import record

STRAJA = str(Path(sys.executable).with_name("straja"))


def run(*args, timeout=60):
    return subprocess.run([STRAJA, "monitor", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_json_frames_summary_and_recording(firmware_node, tmp_path):
    rec = tmp_path / "run.rec"
    # 120 frames: over a second of streaming (the front ends scan at once, some 40 sweeps a
    # second), so a STATUS heartbeat is among them
    r = run(firmware_node.port, "--start", "--json", "--count", "120", "--record", str(rec))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    frames, summary = lines[:-1], lines[-1]["summary"][firmware_node.port]
    assert len(frames) == 120 and summary["frames"] >= 120
    assert summary["corrupt"] == 0 and summary["lost"] == 0
    assert {f["type"] for f in frames} >= {"SWEEP", "STATUS"}
    assert all(f["node_id"] == 7 for f in frames)
    sweep = next(f for f in frames if f["type"] == "SWEEP")
    assert 0 < len(sweep["rssi"]) <= sweep["total"] - sweep["first"]

    # The recording holds the raw bytes: decoding them again gives at least those frames.
    header, records = record.read(rec)
    assert header["ports"] == [firmware_node.port]
    decoder = protocol.ReferenceDecoder()
    for rec_ in records:
        if rec_.kind == record.DATA:
            decoder.feed(rec_.data)
    assert decoder.frames >= 120 and decoder.corrupt == 0


def test_human_output_shows_rates_and_sweep_bars(firmware_node):
    r = run(firmware_node.port, "--start", "--duration", "3")
    assert r.returncode == 0, r.stderr
    assert "frames/s" in r.stdout and " MHz |" in r.stdout and "\x1b[" not in r.stdout
    assert f"{firmware_node.port}: " in r.stdout and " lost, " in r.stdout


def test_port_errors_exit_3_with_the_fix(firmware_node, tmp_path):
    r = run(str(tmp_path / "ttyACM9"))
    assert r.returncode == 3 and "no such port" in r.stderr and "fix:" in r.stderr
    with serial.Serial(firmware_node.port, exclusive=True):
        r = run(firmware_node.port)
    assert r.returncode == 3 and "busy" in r.stderr and "python" in r.stderr.lower()


def test_pairs_sweep_json_gives_held_and_both_readings():
    from straja.tools.monitor import frame_json

    first, second = [60, 90, 70], [80, 50, 70]
    sweep = protocol.Sweep(0, protocol.FLAG_REVISIT | protocol.FLAG_PAIRS, 1, 2_400_000, 1_325,
                           1_400, 8_400, 0, 3, bytes(first + second))
    out = frame_json("/dev/ttyACM0", protocol.Frame(protocol.SWEEP, 7, 1, 0, sweep))
    assert (out["rssi"], out["rssi_first"], out["rssi_second"]) == ([60, 50, 70], first, second)


def test_revisit_sweep_is_drawn_one_bar_per_channel_with_its_peak_in_band():
    """A REVISIT sweep carries two codes per channel (held, then first reads): the monitor draws
    the held codes only, and the peak it names lies inside the sweep's band."""
    from straja.tools.monitor import PortView

    n, peak_channel = 64, 40
    held = [protocol.dbm_to_rssi_code(-100.0)] * n
    held[peak_channel] = protocol.dbm_to_rssi_code(-50.0)
    first_reads = [protocol.dbm_to_rssi_code(-40.0)] * n  # louder, but not what stayed on
    sweep = protocol.Sweep(0, protocol.FLAG_REVISIT, 1, 2_400_000, 1_300, 1_400, 179_200, 0, n,
                           bytes(int(c) for c in held + first_reads))
    view = PortView("/dev/ttyACM0")
    view.note(protocol.Frame(protocol.SWEEP, 7, 1, 0, sweep))
    line = view.lines()[-1]
    assert " 2400.0- 2481.9 MHz |" in line
    drawn = line.split("|")[1]  # one block per channel: the peak's the highest, the rest low
    low = drawn[0]
    assert len(drawn) == n and drawn[peak_channel] != low
    assert drawn.replace(drawn[peak_channel], low) == low * n
    assert line.endswith(f"peak  -50.0 dBm @ {(2_400_000 + peak_channel * 1_300) / 1000:7.1f} MHz")
    assert list(sweep.freqs_khz()) == [2_400_000 + i * 1_300 for i in range(n)]
