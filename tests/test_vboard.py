"""The real drivers under MicroPython, through the unix hardware layer, against the real virtual
board server: a tone at a known channel shows up in that channel's RSSI codes and not at far
channels, for every chip kind; an RX5808 read too soon after a retune is between the two levels."""
from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from straja.mp import run_micropython
from straja.paths import FIRMWARE, REPO, board_profile_path
from straja.vboard import NoiseOnly, ToneSource, VirtualBoard
from straja_node.hw.board_unix import SETTLE_SLACK_US

SCRIPT = REPO / "tests" / "firmware" / "vboard_check.py"
PROFILE = json.loads(board_profile_path("virtual").read_text())


SESSIONS = ("_session", "_session_reference")  # the board's loop, compiled, and its oracle


def _served(board: VirtualBoard, chunks: list[bytes], session: str = "_session") -> list[bytes]:
    """Serve `chunks` through the board's loop `session` (its name), each arriving as one read,
    until the stream ends; what the board sent, one item a send (a SEQPACKET pair keeps the
    boundaries of both sides' sends)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, theirs:
        for chunk in chunks:
            ours.send(chunk)
        ours.shutdown(socket.SHUT_WR)
        with pytest.raises(ConnectionError):
            getattr(board, session)(theirs)
        theirs.shutdown(socket.SHUT_WR)
        return list(iter(lambda: ours.recv(1 << 16), b""))


def _served_or_raised(board: VirtualBoard, chunks: list[bytes], session: str):
    """As _served, for a stream that may stop the loop otherwise: (what the board sent, the
    exception that ended the loop, as its type and text)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, theirs:
        for chunk in chunks:
            ours.send(chunk)
        ours.shutdown(socket.SHUT_WR)
        try:
            getattr(board, session)(theirs)
        except Exception as e:  # noqa: BLE001 - the two loops must end alike, whatever ends them
            ended = (type(e).__name__, str(e))
        theirs.shutdown(socket.SHUT_WR)
        return list(iter(lambda: ours.recv(1 << 16), b"")), ended


def code_dbm(code: int) -> float:
    return code / 2 - 140


@pytest.fixture
def bench():
    """Run vboard_check.py for one front end with `rf` as the virtual board's RF input."""
    tmp = Path(tempfile.mkdtemp(prefix="straja-vbt-"))
    shutil.copy(board_profile_path("virtual"), tmp / "board.json")
    boards = []

    def run(rf, **args):
        board = VirtualBoard(PROFILE, rf, str(tmp / "vb.sock")).start()
        boards.append(board)
        proc = run_micropython(SCRIPT, args=[json.dumps(args)], path=[FIRMWARE], cwd=tmp,
                               env={"STRAJA_VBOARD": str(tmp / "vb.sock")}, timeout=60)
        board.stop()
        assert board.errors == []
        return json.loads(proc.stdout), board

    yield run
    for board in boards:
        board.stop()
    shutil.rmtree(tmp)


# (front-end index, tone kHz, far channels kHz, tone dBm)
CASES = {
    "rx5808": (0, 5800000, (5658000, 5917000), -50.0),
    "cc2500": (1, 2441750, (2400000, 2480000), -60.0),
    "sx126x": (2, 868100, (863500, 915000), -70.0),
    "sx127x": (3, 868000, (863000, 915000), -70.0),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_tone_shows_at_its_channel_only(bench, kind):
    fe, tone, far, dbm = CASES[kind]
    out, board = bench(ToneSource(tone * 1e3, dbm), fe=fe, freqs=[tone, *far])
    assert out["kind"] == kind and out["selftest"][0] is True
    at_tone = code_dbm(out["codes"][str(tone)])
    assert abs(at_tone - dbm) <= 2.0, out
    for f in far:
        assert code_dbm(out["codes"][str(f)]) < dbm - 20, out
    assert board.transactions > 0
    assert out["alloc"] == 0  # the unix hardware layer's proxies allocate nothing either


def test_rx5808_early_read_is_between_old_and_new_levels(bench):
    out, _ = bench(ToneSource(5800e6, -40.0), fe=0, blend=[5800000, 5658000])
    near, early, far = out["blend"]
    assert code_dbm(near) == pytest.approx(-40, abs=2)
    assert code_dbm(far) == pytest.approx(-90, abs=2)  # the calibrated bottom: noise is below it
    assert far + 10 < early < near - 10, out["blend"]


def logdet_dbm(samples, cal):
    slope_udb, intercept_mdbm = cal
    return [intercept_mdbm / 1000 + s * slope_udb / 1e6 for s in samples]


def test_logdet_envelope(bench):
    # a carrier in the detector's band, keyed 1 ms on / 1 ms off, sampled at 10 kHz for 25.6 ms
    rf = ToneSource(5800e6, -30.0, period_s=2e-3, duty=0.5)
    out, _ = bench(rf, fe=4, block=[256, 10000])
    dbm = logdet_dbm(out["samples"], out["cal"])
    on = [d for d in dbm if d > -45]
    off = [d for d in dbm if d <= -45]
    assert out["flags"] == 0
    assert 80 < len(on) < 176 and 80 < len(off) < 176  # about half each
    assert sum(on) / len(on) == pytest.approx(-30, abs=1.5)
    # the detector's floor (its input noise is below its range), except where a sample's ~2 us
    # window straddles a key edge and reads an average of both levels: next to an on sample
    inside = [d for i, d in enumerate(dbm) if d <= -45
              and all(n <= -45 for n in dbm[max(i - 1, 0):i + 2])]
    assert inside and max(inside) < -55


def test_logdet_ignores_a_tone_outside_its_band(bench):
    out, _ = bench(ToneSource(2440e6, -30.0), fe=4, block=[64, 10000])
    assert max(logdet_dbm(out["samples"], out["cal"])) < -55


def test_watchdog_feeds_safe_pin_and_restart_reconnect(tmp_path):
    # two interpreter runs against one board: the second connects after the first exits
    board = VirtualBoard(PROFILE, NoiseOnly(), str(tmp_path / "vb.sock")).start()
    try:
        shutil.copy(board_profile_path("virtual"), tmp_path / "board.json")
        # the board sees a feed on start, then at most one every FEED_EVERY_MS (250)
        script = ("from time import sleep_ms\nfrom straja_node import hw\nw = hw.watchdog(3000)\n"
                  "for _ in range(5):\n    w.feed()\nsleep_ms(260)\nw.feed()\nw.feed()\n"
                  "fe = hw.front_ends({})[1]\nprint(fe.rssi_code(), hw.safe_pin_low())\n")
        env = {"STRAJA_VBOARD": str(tmp_path / "vb.sock")}
        for held in (False, True):
            board.safe_pin_low = held
            proc = run_micropython(script, path=[FIRMWARE], cwd=tmp_path, env=env)
            code, safe = proc.stdout.split()
            assert 0 < int(code) < 255 and safe == str(held)
        assert board.feeds == 4 and board.watchdog_ms == 3000 and board.connections == 2
    finally:
        board.stop()


def test_writes_are_one_way_and_a_refused_one_is_reported(tmp_path):
    """A bus write waits for no answer (as a board's SPI write returns once clocked out): an
    SX126x tune is three requests, queued, and no round trip, a reading one round trip, and the
    BUSY pin the model holds low is asked once, not before every command; a write the board
    refuses makes the next read fail with a clear error."""
    board = VirtualBoard(PROFILE, NoiseOnly(), str(tmp_path / "vb.sock")).start()
    shutil.copy(board_profile_path("virtual"), tmp_path / "board.json")
    env = {"STRAJA_VBOARD": str(tmp_path / "vb.sock")}
    # the last reading sends what the set-up queued (queued writes go with the next read)
    script = ("import sys\nfrom straja_node import hw\nsx = hw.front_ends({})[2]\n"
              "for _ in range(int(sys.argv[1])):\n    sx.tune(868000)\n    sx.rssi_code()\n"
              "sx.rssi_code()\n")
    try:
        counts = []
        for n in (0, 100):
            before = board.transactions, board.round_trips
            run_micropython(script, args=[str(n)], path=[FIRMWARE], cwd=tmp_path, env=env)
            counts.append((board.transactions - before[0], board.round_trips - before[1]))
        assert (counts[1][0] - counts[0][0], counts[1][1] - counts[0][1]) == (400, 100)
        refused = ("from straja_node import hw\nfrom straja_node.hw import board_unix\n"
                   "fes = hw.front_ends({})\n"
                   "board_unix.SpiDevice(board_unix.link(), 0).write(b'x')\n"  # the RX5808: no SPI
                   "try:\n    fes[1].rssi_code()\nexcept OSError as e:\n    print(e)\n"
                   "print(fes[1].rssi_code() > 0)\n")  # reported once
        proc = run_micropython(refused, path=[FIRMWARE], cwd=tmp_path, env=env)
        assert proc.stdout.splitlines() == [
            "virtual board: op 2 dev 1, or a write before it, refused", "True"]
        assert board.errors == ["op 1 dev 0: vid58 has no SPI"]
    finally:
        board.stop()


def test_queued_writes_go_with_the_reading_or_before_a_sleep_once_they_have_waited(tmp_path):
    """A tune's writes wait for the reading after it (one wake-up of the board a reading), not
    for the scheduler's sleep (hw.idle) in between; before a sleep they go once they have waited
    FLUSH_AFTER_US (a plan that reads seldom, a node not reading)."""
    board = VirtualBoard(PROFILE, NoiseOnly(), str(tmp_path / "vb.sock")).start()
    shutil.copy(board_profile_path("virtual"), tmp_path / "board.json")
    script = ("from time import sleep_us\nfrom straja_node import hw\n"
              "from straja_node.hw import board_unix\n"
              "cc = hw.front_ends({})[1]\nlink = board_unix.link()\ncc.rssi_code()\n"
              "cc.tune(2441000)\nhw.idle()\nprint(link.queued)\n"
              "cc.rssi_code()\nprint(link.queued)\n"
              "cc.tune(2442000)\nsleep_us(board_unix.FLUSH_AFTER_US)\nhw.idle()\n"
              "print(link.queued)\n")
    try:
        proc = run_micropython(script, path=[FIRMWARE], cwd=tmp_path,
                               env={"STRAJA_VBOARD": str(tmp_path / "vb.sock")})
        # a CC2500 tune: two strobes and a 4-byte burst, 8-byte headers
        assert proc.stdout.split() == [str(3 * 8 + 1 + 4 + 1), "0", "0"]
        assert board.errors == []
    finally:
        board.stop()


class ReadInstants(NoiseOnly):
    """Noise, and the instant of every reading the chip models take (their window's end)."""

    def __init__(self):
        super().__init__()
        self.instants = []

    def band_power_dbm(self, freq_hz, bw_hz, t0_s, t1_s):
        self.instants.append(t1_s)
        return super().band_power_dbm(freq_hz, bw_hz, t0_s, t1_s)


AHEAD_SCRIPT = """
import json
from time import sleep_us, ticks_add, ticks_diff, ticks_us
from straja_node import hw
from straja_node.hw import board_unix
fes = hw.front_ends({})
cc = fes[1]
link = board_unix.link()
cc.tune(2441000)
hw.idle(ticks_add(ticks_us(), 300), 1)
cc.rssi_code()  # the first: how the CC2500 is read is learnt
instants = []
for _ in range(5):
    cc.tune(2441000)
    at = ticks_add(ticks_us(), 3000)
    hw.idle(at, 1)  # the scheduler, before it sleeps until the reading's deadline
    sleep_us(ticks_diff(at, ticks_us()))
    cc.rssi_code()
    instants.append(at)
asked = link.aheads_taken, link.aheads_dropped
hw.idle(ticks_add(ticks_us(), 30000), 1)  # far enough ahead that a stall under load keeps
# the early step below well before it
fes[2].rssi_code()  # another front end read first: its own answer, the one asked held
then = [link.aheads_taken, link.aheads_dropped]
early = cc.rssi_code()  # its step, ~30 ms before the instant asked: the held one dropped
last = [link.aheads_taken, link.aheads_dropped]
cc.tune(2441000)
at = ticks_add(ticks_us(), 1000)
hw.idle(at, 1)
fes[2].rssi_code()  # read first again: the CC2500's answer held ...
sleep_us(ticks_diff(at, ticks_us()))
cc.rssi_code()  # ... and taken by its step, at its instant
print(json.dumps({"instants_us": instants, "asked": asked, "then": then, "next": early,
                  "last": last, "held": [link.aheads_taken, link.aheads_dropped], "at": at}))
"""


def run_on_board(tmp_path, rf, script: str) -> dict:
    """The JSON a MicroPython script prints, run against a virtual board on `rf` (board time from
    0); the board must have seen no error."""
    board = VirtualBoard(PROFILE, rf, str(tmp_path / "vb.sock"), t_origin=0.0).start()
    shutil.copy(board_profile_path("virtual"), tmp_path / "board.json")
    try:
        proc = run_micropython(script, path=[FIRMWARE], cwd=tmp_path,
                               env={"STRAJA_VBOARD": str(tmp_path / "vb.sock")})
        got = json.loads(proc.stdout)
        assert board.errors == []
    finally:
        board.stop()
    return got


def test_a_reading_asked_ahead_is_taken_at_its_instant(tmp_path):
    """Before the scheduler sleeps until a reading, the unix layer asks the virtual board for it
    (hw.idle(deadline, front end)), stamped at the deadline, so the board answers while the node
    sleeps: the chip model takes the reading at the deadline, not when it was asked; the step's
    reading takes that answer if it makes the request the front end's last reading began with;
    a step that reads another front end first gets its own answer, the one asked held for its
    step, which drops it if it comes earlier than the instant asked."""
    rf = ReadInstants()
    got = run_on_board(tmp_path, rf, AHEAD_SCRIPT)
    assert got["asked"] == [5, 0] and got["then"] == [5, 0] and got["last"] == [5, 1]
    assert got["next"] > 0 and got["held"] == [6, 1]
    # readings: the learnt one, five asked ahead, the dropped one, the other front end's, the
    # early step's; then the held one and the other front end's
    asked = rf.instants[1:6]
    assert len(rf.instants) == 11
    assert rf.instants[9] == pytest.approx(got["at"] * 1e-6, abs=2e-6)
    assert asked == pytest.approx([t * 1e-6 for t in got["instants_us"]], abs=2e-6)


class ReadWhen(NoiseOnly):
    """Noise, and for every reading the chip models take: its instant and when it was taken."""

    def __init__(self):
        super().__init__()
        self.readings = []

    def band_power_dbm(self, freq_hz, bw_hz, t0_s, t1_s):
        self.readings.append((freq_hz, t1_s, time.monotonic()))
        return super().band_power_dbm(freq_hz, bw_hz, t0_s, t1_s)


TOGETHER_SCRIPT = """
import json
from time import sleep_us, ticks_add, ticks_diff, ticks_us
from straja_node import hw
from straja_node.hw import board_unix
TUNE_SLEEP_US = %d  # 0: the node sleeps towards each reading; else towards a tune this long
fes = hw.front_ends({})
cc, sx = fes[1], fes[2]
link = board_unix.link()
deadlines = []
for i in range(7):  # the first two learn how each is read and its settle time
    cc.tune(2441000)
    tuned = ticks_us()
    sx.tune(868000)
    at_cc = ticks_add(tuned, 3000)
    at_sx = ticks_add(tuned, 5000)
    asking = not TUNE_SLEEP_US or i < 2
    if asking:
        hw.idle(at_cc, 1)  # the scheduler, before it sleeps until the CC2500's reading
    else:  # ... or until another front end's tune
        hw.idle(ticks_add(tuned, TUNE_SLEEP_US), -1)
    sleep_us(ticks_diff(at_cc, ticks_us()))
    cc.rssi_code()
    if asking:
        hw.idle(at_sx, 2)  # ... and until the SX126x's (else the node is busy until it)
    sleep_us(ticks_diff(at_sx, ticks_us()))
    sx.rssi_code()
    deadlines.append([at_cc, at_sx])
    if i == 1:
        learnt = [link.aheads_taken, link.aheads_dropped]
print(json.dumps({"deadlines_us": deadlines, "learnt": learnt,
                  "then": [link.aheads_taken, link.aheads_dropped]}))
"""


def test_front_ends_waiting_for_their_reading_are_asked_together(tmp_path):
    """When the node asks ahead for one reading, the other front ends tuned since their last
    reading are asked in the same write, each stamped at its tune plus the settle time learned
    from its last deadline: the board takes the SX126x's reading while the node still sleeps
    towards the CC2500's, at the SX126x's own instant."""
    rf = ReadWhen()
    got = run_on_board(tmp_path, rf, TOGETHER_SCRIPT % 0)
    sx_readings = [(t, when) for freq, t, when in rf.readings if freq < 1e9][-5:]
    together = 0
    for (at_cc, at_sx), (t, when) in zip(got["deadlines_us"][2:], sx_readings):
        assert t >= (at_sx - SETTLE_SLACK_US) * 1e-6  # never before the SX126x has settled
        on_time = t == pytest.approx(at_sx * 1e-6, abs=SETTLE_SLACK_US * 1e-6)
        together += on_time and when < at_cc * 1e-6  # taken before the node woke for the CC2500's
    # (one round may miss on a loaded machine: the node, late, asks at the SX126x's own step,
    # the reading then stamped at that request's instant, after its deadline)
    assert together >= 4, (got, sx_readings)
    assert got["then"][0] >= 2 * 5 - 1


def test_front_ends_waiting_for_their_reading_are_asked_before_a_sleep_towards_a_tune(tmp_path):
    """A sleep towards a step that reads nothing (another front end's tune) asks the readings of
    the front ends tuned since their last reading: their steps, with no sleep of their own
    before them, find their answers waiting, taken at their instants."""
    rf = ReadWhen()
    got = run_on_board(tmp_path, rf, TOGETHER_SCRIPT % 1500)
    (taken, dropped), (learnt_taken, learnt_dropped) = got["then"], got["learnt"]
    assert dropped == learnt_dropped, got  # every one asked at a tune's sleep was taken ...
    assert taken - learnt_taken >= 2 * 5 - 1, got  # ... all but one (a loaded machine)
    cc_instants = [t for freq, t, when in rf.readings if freq > 1e9][-5:]
    sx_instants = [t for freq, t, when in rf.readings if freq < 1e9][-5:]
    on_time = 0
    for (at_cc, at_sx), t_cc, t_sx in zip(got["deadlines_us"][2:], cc_instants, sx_instants):
        for t, at in ((t_cc, at_cc), (t_sx, at_sx)):
            assert t >= (at - SETTLE_SLACK_US) * 1e-6  # never before the front end has settled
            on_time += t == pytest.approx(at * 1e-6, abs=SETTLE_SLACK_US * 1e-6)
    assert on_time >= 2 * 5 - 1, (got, cc_instants, sx_instants)  # (as above: one may be late)


def test_a_request_happens_when_the_firmware_stamped_it(tmp_path):
    """The unix port's ticks_us() mod 2**32 is the instant of a request, a microsecond ahead of
    the server's clock (rounding) or seconds behind it (queued, or a busy server thread)."""
    board = VirtualBoard(PROFILE, NoiseOnly(), str(tmp_path / "vb.sock"), t_origin=1.0)
    now_us = round(time.monotonic() * 1e6)
    for age_us in (-1, 0, 250, 3_000_000):
        t = board.stamped((now_us - age_us) % 2**32)
        assert t == pytest.approx((now_us - age_us) * 1e-6 - 1.0, abs=2e-3)


def test_front_ends_need_the_server(tmp_path):
    shutil.copy(board_profile_path("virtual"), tmp_path / "board.json")
    proc = run_micropython("from straja_node import hw\nhw.front_ends({})\n", path=[FIRMWARE],
                           cwd=tmp_path, env={"STRAJA_VBOARD": ""}, check=False)
    assert proc.returncode != 0 and "STRAJA_VBOARD is not set" in proc.stdout + proc.stderr


def test_unix_board_identity_from_environment(tmp_path):
    shutil.copy(board_profile_path("virtual"), tmp_path / "board.json")
    script = ("from straja_node import hw\nprint(hw.reset_cause(), hw.unique_id().hex(), "
              "hw.safe_pin_low())\nhw.reset()\n")
    proc = run_micropython(script, path=[FIRMWARE], cwd=tmp_path, check=False,
                           env={"STRAJA_RESET_CAUSE": "2", "STRAJA_UID": "0a0b0c", "STRAJA_SAFE_PIN": "0",
                                "STRAJA_VBOARD": ""})
    assert proc.stdout.split() == ["2", "0a0b0c", "True"]
    assert proc.returncode == 86


def test_sources_power_arithmetic():
    noise = NoiseOnly(-166.0)
    assert noise.band_power_dbm(2.44e9, 1e6, 0, 1e-3) == pytest.approx(-106.0)
    keyed = ToneSource(2.44e9, -60.0, period_s=1e-3, duty=0.25, noise_dbm_per_hz=-200.0)
    # a 1 ms window holds one 0.25 ms burst: a quarter of the power, -6 dB
    assert keyed.band_power_dbm(2.44e9, 1e6, 0.3e-3, 1.3e-3) == pytest.approx(-66.02, abs=0.01)
    assert keyed.band_power_dbm(2.45e9, 1e6, 0.3e-3, 1.3e-3) == pytest.approx(-140.0)
    default = ToneSource()  # a carrier in every virtual front end's band
    for fe in PROFILE["front_ends"]:
        lo, hi = fe["band_khz"]
        assert any(lo * 1e3 <= f <= hi * 1e3 for f in default.carriers_hz), fe["name"]


def test_measured_noise_scatters_as_an_average_of_bw_times_window_samples(tmp_path):
    """A power estimate from k = bw x window samples of noise has a relative spread of 1/sqrt(k):
    RSSI of noise alone is never a constant."""
    import numpy as np

    profile = json.loads(board_profile_path("virtual").read_text())
    board = VirtualBoard(profile, NoiseOnly(), str(tmp_path / "vb.sock"), seed=3)
    chip = board.chips[0]
    mean_dbm = NoiseOnly().band_power_dbm(2.44e9, 200e3, 0, 1)
    for window_s, k in ((100e-6, 20.0), (5e-3, 1000.0)):
        dbm = np.array([chip.power(2.44e9, 200e3, window_s, 1.0) for _ in range(4000)])
        linear = 10 ** ((dbm - mean_dbm) / 10)
        assert abs(linear.mean() - 1) < 0.03
        assert linear.std() == pytest.approx(1 / np.sqrt(k), rel=0.1)


@pytest.mark.parametrize("modulation, dbm, detected", [
    ("lora", -110.0, True),    # SNR -1 dB over 500 kHz of noise (-109 dBm, NF 8 dB): SF7 needs -7.5
    ("lora", -125.0, False),   # SNR -16 dB: far below SF7's limit
    ("", -70.0, False),        # a strong carrier that is not LoRa: RSSI sees it, CAD does not
])
def test_sx126x_cad_hears_lora_only(bench, modulation, dbm, detected):
    rf = ToneSource(868.1e6, dbm, modulation=modulation)
    out, _ = bench(rf, fe=2, cad=[868100, 915000])
    assert out["cad"] == [detected, False]


def test_the_scans_requests_are_answered_as_by_their_handlers():
    """The scan's requests go straight to the chip (VirtualBoard._direct_handlers); the same
    stream through the per-op handlers alone gets the same answers, byte for byte, and the same
    refusals."""
    from straja.vboard import server

    def req(op, dev, payload=b"", stamp=1000):
        return server.HEADER.pack(op, dev, len(payload), stamp) + payload

    tune_rx5808 = 1 | 1 << 4 | 0x1234 << 5  # synthesizer register B, written
    stream = [
        req(server.WORD, 0, server.WORD_ARGS.pack(tune_rx5808, 25)),
        req(server.ADC_READ, 0),
        req(server.SPI_WRITE, 1, bytes((0x36,))) + req(server.SPI_WRITE, 1, bytes((0x4D, 0x5C, 0x4E, 0xC4)))
        + req(server.SPI_WRITE, 1, bytes((0x34,))) + req(server.SPI_XFER, 1, bytes((0xF4, 0)), 2000),
        req(server.SPI_WRITE, 2, bytes((0x86, 0x36, 0x40, 0, 0))) + req(server.SPI_WRITE, 2, bytes((0x82, 0, 0, 0)))
        + req(server.SPI_XFER, 2, bytes((0x15, 0, 0)), 3000),
        req(server.SPI_WRITE, 3, bytes((0x81, 0x0D))) + req(server.SPI_WRITE, 3, bytes((0x86, 0xD9, 0, 0)))
        + req(server.SPI_XFER, 3, bytes((0x11, 0)), 4000),
        req(server.SPI_WRITE, 0, b"x") + req(server.ADC_READ, 1),  # no SPI, no ADC: refused
        req(server.WORD, 0, server.WORD_ARGS.pack(tune_rx5808, 24)) + req(server.ADC_READ, 0),
    ]

    def answers(direct: bool, session: str):
        board = VirtualBoard(PROFILE, ToneSource(868.1e6, -60.0), "unused.sock", t_origin=0.0,
                             seed=5)
        if not direct:
            board._direct = {}
        sent = _served(board, stream, session)
        return sent, board.errors, board.transactions

    for session in SESSIONS:
        by_direct, by_handlers = answers(True, session), answers(False, session)
        assert by_direct == by_handlers
        assert len(by_direct[0]) == 6 and len(by_direct[1]) == 3, by_direct


def test_the_answers_to_one_write_go_in_one_send():
    """Requests that arrive together (a reading and the ones asked with it) are answered in one
    system call, the same bytes as answered one by one; a request off the scan's path sends the
    answers before it first (an envelope block's is sent when its samples are taken)."""
    from straja.vboard import server

    def req(op, dev, payload=b"", stamp=1000):
        return server.HEADER.pack(op, dev, len(payload), stamp) + payload

    pin = req(server.PIN_READ, PROFILE["safe_pin"], stamp=5000)
    readings = [req(server.SPI_WRITE, 1, bytes((0x34,))) + req(server.SPI_XFER, 1, bytes((0xF4, 0)), 2000),
                req(server.ADC_READ, 0, stamp=3000), req(server.SPI_XFER, 3, bytes((0x11, 0)), 4000),
                pin, req(server.ADC_READ, 0, stamp=6000)]

    def answers(chunks, session):
        board = VirtualBoard(PROFILE, ToneSource(2441e6, -60.0), "unused.sock", t_origin=0.0,
                             seed=3)
        sent = _served(board, chunks, session)
        assert board.errors == []
        return sent, board.transactions, board.round_trips

    for session in SESSIONS:
        together, one_by_one = answers([b"".join(readings)], session), answers(readings, session)
        assert b"".join(together[0]) == b"".join(one_by_one[0])
        assert together[1:] == one_by_one[1:] == (6, 5)
        assert len(together[0]) == 2 and len(one_by_one[0]) == 5


def test_the_compiled_loop_serves_as_the_python_one():
    """straja._vboard_serve.serve (VirtualBoard._session) against its oracle, the plain loop
    (_session_reference): a scan's stream with every front end's tune and reading, Bluetooth
    polls, pins, watchdog, an envelope block, refused requests (an unknown op, a bad payload, a
    write to a front end without that bus) and requests split across reads (one cut in its
    header, one in its payload) get the same answers in the same sends, the same refusals and
    counts."""
    from straja.vboard import server

    class Heard:
        """Two advertisements at the first scan, none after."""
        def __init__(self):
            self.left = [(0.0, 0, -60 - i, bytes((1, 2, 3, 4, 5, i)), bytes((2, 1, 6)))
                         for i in range(2)]

        def advertisements(self, t0, t1):
            heard, self.left = self.left, []
            return heard

    base_us = round(time.monotonic() * 1e6) - 1_000_000  # (a block's samples all taken by now)

    def req(op, dev, payload=b"", stamp=1000):
        return server.HEADER.pack(op, dev, len(payload), (base_us + stamp) % (1 << 32)) + payload

    word = server.WORD_ARGS.pack(1 | 1 << 4 | 0x1234 << 5, 25)
    scan = (req(server.WDT_START, 0, (4000).to_bytes(4, "little"))
            + req(server.WORD, 0, word, 1500) + req(server.ADC_READ, 0, stamp=2500)
            + req(server.SPI_WRITE, 1, bytes((0x36,))) + req(server.SPI_WRITE, 1, bytes((0x0D, 0x5C, 0x4E, 0xC4)))
            + req(server.SPI_WRITE, 1, bytes((0x34,))) + req(server.SPI_XFER, 1, bytes((0xF4, 0)), 2000)
            + req(server.SPI_WRITE, 2, bytes((0x86, 0x36, 0x40, 0, 0))) + req(server.SPI_WRITE, 2, bytes((0x82, 0, 0, 0)))
            + req(server.SPI_XFER, 2, bytes((0x15, 0, 0)), 3000) + req(server.WDT_FEED, 0)
            + req(server.SPI_WRITE, 3, bytes((0x81, 0x0D))) + req(server.SPI_WRITE, 3, bytes((0x86, 0xD9, 0, 0)))
            + req(server.SPI_XFER, 3, bytes((0x11, 0)), 4000) + req(server.BLE_SCAN, 0, stamp=4100)
            + req(server.PIN_FIXED, 6) + req(server.PIN_READ, PROFILE["safe_pin"])
            + req(server.PIN_WRITE, 5, b"\x01"))
    refused = (req(server.SPI_WRITE, 0, b"x") + req(server.ADC_READ, 1)  # no SPI, no ADC
               + req(99, 0) + req(server.WORD, 0, b"\x01"))  # an unknown op; a short payload
    block = req(server.BLOCK, 4, server.BLOCK_ARGS.pack(4, 100000), 5000)
    stream = [scan, refused, block + scan, scan[:5], scan[5:40], scan[40:] + refused, scan]
    def answers(session):
        board = VirtualBoard(PROFILE, ToneSource(868.1e6, -60.0), "unused.sock", t_origin=0.0,
                             seed=7, bluetooth=Heard())
        board._direct = board._direct_handlers(compiled=session == "_session")
        sent = _served(board, stream, session)
        return (sent, board.errors, board.transactions, board.round_trips, board.feeds,
                board.watchdog_ms)

    compiled, reference = answers("_session"), answers("_session_reference")
    assert compiled == reference
    assert len(compiled[0]) == 26 and len(compiled[1]) == 8, compiled  # (a request off the scan's
    # path sends the answers before it)


@pytest.mark.parametrize("seed", range(6))
def test_the_compiled_loop_serves_a_hostile_stream_as_the_python_one(seed):
    """Random requests (any op but an envelope block, which waits for its samples; any device,
    payloads of any length up to 12 bytes, any stamp) cut at random places: the compiled loop
    sends what the plain one does, refuses the same requests, counts the same, and ends the same
    way (a connection closed, or the same exception)."""
    import random

    from straja.vboard import server
    rng = random.Random(seed)
    ops = [op for op in range(16) if op != server.BLOCK]
    stream = b"".join(
        server.HEADER.pack(rng.choice(ops), rng.randrange(24), n, rng.getrandbits(32))
        + rng.randbytes(n) for n in (rng.randrange(13) for _ in range(300)))
    cuts = sorted(rng.sample(range(1, len(stream)), 40))
    chunks = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)])]

    def answers(session):
        board = VirtualBoard(PROFILE, ToneSource(868.1e6, -60.0), "unused.sock", t_origin=0.0,
                             seed=seed)
        board._direct = board._direct_handlers(compiled=session == "_session")
        sent, ended = _served_or_raised(board, chunks, session)
        return sent, ended, board.errors, board.transactions, board.round_trips, board.feeds

    compiled, reference = answers("_session"), answers("_session_reference")
    assert compiled == reference
    assert compiled[2], "no request refused: the stream tried nothing hostile"


@pytest.mark.parametrize("seed", range(4))
def test_the_chips_scan_requests_in_c_answer_as_the_models_methods(seed):
    """The SX127x's, CC2500's and SX126x's tunes and readings served in C (straja._vboard_serve's
    SCAN_PATHS, over the model's own state) against the models' Python methods: random SPI
    writes and transfers, their first byte mostly one the scan sends (strobes, register writes,
    RSSI reads, SX126x commands, in and out of receive and LoRa mode), any length up to 6 bytes,
    get the same answers, the same readings (the same random draws), refusals and counts."""
    import random

    from straja.vboard import server
    rng = random.Random(seed)
    firsts = {1: [0x34, 0x36, 0x3D, 0xF4, 0xF4, 0x0D, 0x4D, 0x0A, 0x2F, 0x8D, 0xF1, 0xF5],
              2: [0x80, 0x82, 0x86, 0x15, 0x15, 0x8B, 0x8A, 0xC5, 0x12, 0x02, 0x1D, 0x0D],
              3: [0x81, 0x81, 0x86, 0x11, 0x11, 0x1B, 0x1B, 0x92, 0x9D, 0x42, 0xFF, 0x7F]}
    base_us = round(time.monotonic() * 1e6) - 1_000_000
    requests = []
    w, x = server.SPI_WRITE, server.SPI_XFER
    scan = {1: [(w, b"\x36"), (w, b"\x0d"), (w, b"\x34"), (x, b"\xf4\x00")],  # + random bytes
            2: [(w, b"\x80\x00"), (w, b"\x86"), (w, b"\x82\x00\x00\x00"), (x, b"\x15\x00\x00")],
            3: [(w, b"\x81\x01"), (w, b"\x86"), (w, b"\x81\x05"), (w, b"\x81\x85"),
                (x, b"\x11\x00"), (x, b"\x1b\x00")]}
    for i in range(600):
        dev = rng.choice((1, 2, 3))
        if rng.random() < 0.6:  # a scan's request (a tune's frequency bytes random)
            op, payload = rng.choice(scan[dev])
            if len(payload) == 1 and payload[0] in (0x0D, 0x86):
                payload += rng.randbytes(3 + (dev == 2))
        else:
            n = rng.choice((0, 1, 2, 2, 3, 3, 4, 5, 6))
            payload = (bytes((rng.choice(firsts[dev]),)) if n else b"") + bytes(
                rng.choice((0x05, 0x85, 0x01, 0x00, rng.randrange(256))) for _ in range(n - 1))
            op = rng.choice((w, x))
        n = len(payload)
        stamp = (base_us + 200 * i) % (1 << 32)
        requests.append(server.HEADER.pack(op, dev, n, stamp) + payload)
    stream = b"".join(requests)
    cuts = sorted(rng.sample(range(1, len(stream)), 30))
    chunks = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)])]

    def answers(compiled):
        board = VirtualBoard(PROFILE, ToneSource(868.1e6, -60.0), "unused.sock", t_origin=0.0,
                             seed=seed)
        board._direct = board._direct_handlers(compiled=compiled)
        sent = _served(board, chunks)
        cc2500, sx126x, sx127x = board.chips[1:4]
        read = (len(cc2500.tunings), len(sx126x._readers), len(sx127x.tunings))  # tunings read
        return sent, board.errors, board.transactions, board.round_trips, read

    in_c, in_python = answers(True), answers(False)
    assert in_c == in_python
    assert in_c[3] > 200 and min(in_c[4]) >= 3, in_c[3:]  # every chip read at several tunings


def test_the_chips_scan_requests_are_served_in_c():
    """A tune's writes and a reading of each compiled chip never reach the model's method (the
    `fallback`): they are the C paths' own; any other request does."""
    from straja._vboard_serve import SCAN_PATHS
    board = VirtualBoard(PROFILE, ToneSource(868.1e6, -60.0), "unused.sock", t_origin=0.0)
    fallen = []
    scans = {"cc2500": ([b"\x36", b"\x0d\x5c\x4e\xc4", b"\x34"], b"\xf4\x00", b"\x30"),
             "sx126x": ([b"\x80\x00", b"\x86\x36\x40\x00\x00", b"\x82\x00\x00\x00"], b"\x15\x00\x00",
                        b"\x8a\x00"),
             "sx127x": ([b"\x81\x01", b"\x86\xd9\x00\x00", b"\x81\x05"], b"\x11\x00", b"\xff")}
    for chip in board.chips:
        if chip.entry["kind"] not in scans:
            continue
        write, xfer = (path(chip, lambda payload, t: fallen.append(payload))
                       for path in SCAN_PATHS[chip.entry["kind"]])
        tune, reading, other = scans[chip.entry["kind"]]
        for payload in tune:
            write(payload, 1.0)
        assert len(xfer(reading, 1.001)) == len(reading)
        assert fallen == [], (chip.entry["kind"], fallen)
        write(other, 1.002)
        assert fallen == [other]
        fallen.clear()


def test_an_envelope_blocks_wait_makes_the_scenes_next_blocks():
    """While its node waits for an envelope block, the board makes the scene's next blocks of
    the streams read so far and its Bluetooth radio's next block of reception (a reading or a
    Bluetooth poll that first reached one waited 1-3 ms for it), and still answers after the
    block's last sample, not before; what they then hear is what they would have."""
    from straja.sim import scene_from_dict
    from straja.sim.remoteid import NodeBluetooth
    from straja.vboard.server import BLOCK_ARGS

    def make():
        return scene_from_dict({"scene": {"duration_s": 100.0, "seed": 5},
                                "node": [{"name": "n", "position_m": [0.0, 0.0, 0.0]}],
                                "emitter": [{"name": "v", "kind": "analog_video", "channel": "F4",
                                             "eirp_dbm": 30.0, "position_m": [300.0, 0.0, 0.0]},
                                            {"name": "rid", "kind": "remote_id", "uas_id": "SIM-1",
                                             "interval_s": 0.1,
                                             "trajectory": [[0, 100, 0, 50], [20, 300, 0, 50]]}]})
    scene, plain = make(), make()
    rf, ble = scene.node("n"), NodeBluetooth(scene, "n")
    board = VirtualBoard(PROFILE, rf, "unused.sock", t_origin=time.monotonic() - 0.5,
                         bluetooth=ble)
    envelope = next(i for i, e in enumerate(PROFILE["front_ends"]) if e["kind"] == "logdet")
    t = board.now()
    rf.band_power_dbm(5800e6, 20e6, t, t + 1e-3)  # block 0 read: block 1 not made yet
    assert {k for _, _, k in rf._cache} == {0}
    n, rate = 256, 10000
    board._block(envelope, BLOCK_ARGS.pack(n, rate), t)
    assert board.now() >= t + (n - 1) / rate
    assert {k for _, _, k in rf._cache} == {0, 1} and not rf.prepare(t) and not ble.prepare(t)
    assert ble.advertisements(1.0, 1.5) == NodeBluetooth(plain, "n").advertisements(1.0, 1.5) != []
