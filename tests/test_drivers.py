"""The RF front-end drivers under the real MicroPython, on recording fake buses
(tests/firmware/fakebus.py): the exact bytes they send for known frequencies, their RSSI codes for
known register and ADC values, and no heap allocation per tune() + rssi_code().

Expected values are worked out here from the datasheet formulas (with floats, independently of
the drivers' integer arithmetic) and from published register values."""
from __future__ import annotations

import json

import pytest

from straja import boards
from straja.mp import run_micropython
from straja.paths import FIRMWARE, REPO

SCRIPTS = REPO / "tests" / "firmware"


@pytest.fixture(scope="module")
def out() -> dict:
    proc = run_micropython(SCRIPTS / "drivers_check.py", path=[FIRMWARE, SCRIPTS], cwd=SCRIPTS)
    return json.loads(proc.stdout)


def code(dbm: float) -> int:
    """Protocol RSSI code: dBm = code / 2 - 140, clamped to a byte."""
    return min(max(round(2 * (dbm + 140)), 0), 255)


def be(value: int, n: int) -> list[int]:
    return list(value.to_bytes(n, "big"))


# rx5808-pro-diversity / RotorHazard tables (Band A, Raceband R1); 5917 and 5733 from the RTC6715
# synthesizer formula F_LO = 2 * (32 N + A) MHz = F_RF - 479 MHz
@pytest.mark.parametrize("mhz, reg", [(5865, 0x2A05), (5658, 0x281D), (5917, 0x2A1F),
                                      (5733, 0x2903), (5645, 0x2817)])
def test_rx5808_frame(out, mhz, reg):
    f_lo = mhz - 479
    # the register tunes there, to the synthesizer's 2 MHz resolution
    assert 0 <= f_lo - 2 * (32 * (reg >> 7) + (reg & 0x7F)) <= 1
    word = 0x1 | 1 << 4 | reg << 5  # address 1, write, 20 data bits
    assert out["rx5808_words"][str(mhz * 1000)] == [["word", word, 25]]


def test_bitbang_shifts_25_bits_lsb_first_inside_le(out):
    events = out["bitbang"]
    assert events[0] == ["le", 0] and events[-1] == ["le", 1]
    bits = [events[i][1] for i in range(1, len(events) - 1) if events[i][0] == "data"]
    clocks = [e for e in events if e[0] == "clk"]
    word = 0x2A05 << 5 | 0x11
    assert bits == [(word >> i) & 1 for i in range(25)]
    assert clocks == [["clk", 1], ["clk", 0]] * 25


def test_rx5808_rssi_calibration(out):
    # cal: 10000 -> -90 dBm, 24000 -> -20 dBm, linear between, clamped outside
    assert out["rx5808_codes"] == {"0": code(-90), "10000": code(-90), "17000": code(-55),
                                   "24000": code(-20), "65535": code(-20)}


def cc2500_freq(mhz: float) -> int:
    return int(mhz * 1e6 * 2**16 / 26e6)  # floor, as SmartRF Studio


def test_cc2500_tune_writes_freq_registers(out):
    assert cc2500_freq(2400) == 0x5C4EC4  # SmartRF Studio's value for 2400 MHz
    for mhz in (2400, 2441.75):
        burst_freq2 = [0x40 | 0x0D] + be(cc2500_freq(mhz), 3)
        assert out["cc2500_tunes"][str(int(mhz * 1000))] == [[0x36], burst_freq2, [0x34]]


def test_cc2500_setup(out):
    setup = out["cc2500_setup"]
    assert setup[0] == [0x30]  # SRES first
    regs = {t[0]: t[1] for t in setup if len(t) == 2}
    assert regs[0x18] & 0x30 == 0x10  # MCSM0.FS_AUTOCAL: calibrate on IDLE -> RX
    m4 = regs[0x10]
    assert 26e6 / (8 * (4 + (m4 >> 4 & 3)) * 2 ** (m4 >> 6)) == 812500  # widest channel filter


def test_cc2500_rssi(out):
    # RSSI_dBm = RSSI_dec / 2 - 72 (two's complement register)
    expected = {str(v): code((v - 256 if v >= 128 else v) / 2 - 72) for v in (0x00, 0x80, 0x7F, 0xEC)}
    assert out["cc2500_codes"] == expected
    assert out["cc2500_selftest"] == [True, "CC2500 PARTNUM 0x80 VERSION 0x03"]


def test_cc2500_stores_each_channels_calibration(out):
    # per channel: SIDLE, FREQ2..0, SCAL, then FSCAL3..1 read back (burst read 0xC0 | 0x23);
    # FS_AUTOCAL off first (MCSM0 = 0x08), so that SRX will not calibrate again
    store = out["cc2500_store"]
    assert store[0] == [0x18, 0x08]
    for i, mhz in enumerate((2400, 2441.75, 2483)):
        assert store[1 + 4 * i:5 + 4 * i] == [[0x36], [0x4D] + be(cc2500_freq(mhz), 3), [0x33],
                                              [0xE3, 0, 0, 0]]
    assert len(store) == 13


def test_cc2500_tunes_a_stored_channel_from_its_calibration(out):
    tunes = out["cc2500_stored_tunes"]
    for mhz in (2400, 2441.75):  # FREQ and the FSCAL values read at that carrier, no calibration
        freq = be(cc2500_freq(mhz), 3)
        assert tunes[str(int(mhz * 1000))] == [[0x36], [0x4D] + freq, [0x63, 0xA9, 0x2A, freq[1]],
                                               [0x34]]
    # a frequency not stored: FS_AUTOCAL on again, the chip calibrates on IDLE -> RX; and off
    # again for the next stored one
    assert tunes["2420000"] == [[0x36], [0x18, 0x18], [0x4D] + be(cc2500_freq(2420), 3), [0x34]]
    freq = be(cc2500_freq(2483), 3)
    assert tunes["2483000"] == [[0x36], [0x18, 0x08], [0x4D] + freq, [0x63, 0xA9, 0x2A, freq[1]],
                                [0x34]]


def test_cc2500_recalibration_falls_due_after_recal_ms_and_allocates_nothing(out):
    assert out["cc2500_recal_due"] == [False, True, False]
    assert out["cc2500_recal_alloc"] == 0


def test_a_plan_entry_with_the_fast_settle_tunes_from_stored_calibration():
    """The scheduler with the real CC2500 driver (fast_tuning_check.py): the default-style entry
    (settle_us the driver's, 900 us) lets the chip calibrate; an entry with settle_us 340
    calibrates each channel once when set, then tunes with the FSCAL values, never SCAL; a plan
    refused keeps the running one's table; the recalibration due at a sweep's end, and every
    step, run with the heap locked; a plan that does not ask drops the table."""
    proc = run_micropython(SCRIPTS / "fast_tuning_check.py", path=[FIRMWARE, SCRIPTS], cwd=SCRIPTS)
    got = json.loads(proc.stdout)
    assert got["slow_plan_calibrations"] == 0
    assert got["fast_plan_calibrations"] == got["stored"] == 11
    assert "outside its band" in got["refused"] and got["refused_calibrations"] == 0
    assert got["stored_after_refused"] == list(range(2400000, 2411000, 1000))
    # a revisit sweep of 11 channels: 22 tunes (and the next sweep's first), each from the table
    assert got["sweep_scal"] == 0 and got["sweep_fscal_writes"] == got["sweep_tunes"] == 23
    assert got["locked_ok"] and got["recalibrated"]
    assert got["stored_after_slow"] == 0 and got["slow_after_fast"] == []  # no bus operation


def test_sx126x(out):
    setup = out["sx126x_setup"]
    assert setup[:2] == [["reset", 0], ["reset", 1]]
    assert [0x97, 0x02, 0x00, 0x01, 0x40] in setup  # TCXO 1.8 V, 5 ms
    assert [0x98, 0xD7, 0xDB] in setup  # CalibrateImage 863-870 MHz (Table 9-2)
    for mhz in (868.1, 915):
        word = round(mhz * 1e6 * 2**25 / 32e6)
        assert out["sx126x_tunes"][str(round(mhz * 1000))] == [
            [0x80, 0x00], [0x86] + be(word, 4), [0x82, 0xFF, 0xFF, 0xFF]]
    assert out["sx126x_tunes"]["868100"][1] == [0x86, 0x36, 0x41, 0x99, 0x9A]
    assert out["sx126x_codes"] == {str(v): code(-v / 2) for v in (0, 64, 200, 255)}
    assert out["sx126x_selftest"][0] is True
    assert "BUSY" in out["sx126x_busy"]


def test_sx126x_channel_activity_detection(out):
    """SX1261/2 datasheet 13.x: LoRa at SF7/500 kHz/CR 4/5 on 868.1 MHz, 4-symbol CAD, CadDone
    and CadDetected routed, SetCad, GetIrqStatus until CadDone; then the GFSK set-up again."""
    detected, sent = out["sx126x_cad"]
    spi = [b for b in sent if isinstance(b, list) and b and b[0] != 0x12]  # polls aside
    assert detected is True and out["sx126x_cad_quiet"] is False
    assert spi == [
        [0x80, 0x00],                                    # SetStandby STDBY_RC
        [0x8A, 0x01],                                    # SetPacketType LoRa
        [0x8B, 7, 0x06, 0x01, 0x00],                     # SF7, BW 500 kHz, CR 4/5, LDRO off
        [0x86, 0x36, 0x41, 0x99, 0x9A],                  # 868.1 MHz
        [0x88, 0x02, 20, 10, 0x00, 0, 0, 0],             # 4 symbols, detPeak SF+13, detMin 10
        [0x08, 0x01, 0x80, 0x01, 0x80, 0, 0, 0, 0],      # CadDone | CadDetected on DIO1
        [0x02, 0xFF, 0xFF],                              # ClearIrqStatus
        [0xC5],                                          # SetCad
        [0x02, 0xFF, 0xFF],
        [0x8A, 0x00],                                    # back to GFSK for RSSI scanning
        [0x8B, 0x00, 0x50, 0x00, 0x00, 0x09, 0x00, 0x66, 0x66],
    ]


def test_sx127x(out):
    for mhz in (868, 915, 868.1):
        frf = round(mhz * 1e6 * 2**19 / 32e6)
        assert out["sx127x_tunes"][str(round(mhz * 1000))] == [
            [0x81, 0x01], [0x86] + be(frf, 3), [0x81, 0x05]]
    assert out["sx127x_tunes"]["868000"][1] == [0x86, 0xD9, 0x00, 0x00]
    assert out["sx127x_setup"][:2] == [[0x81, 0x00], [0x81, 0x01]]  # sleep (FSK), standby
    assert out["sx127x_codes"] == {str(v): code(-v / 2) for v in (0, 80, 255)}
    assert out["sx127x_selftest"] == [True, "SX127x RegVersion 0x12"]


def test_logdet(out):
    # dBm = 20 + code * 3.3 / 65535 / -0.025 (AD8318: -25 mV/dB, +20 dBm intercept)
    for adc, got in out["logdet_codes"].items():
        assert abs(got - code(20 + int(adc) * 3.3 / 65535 / -0.025)) <= 1
    assert out["logdet_selftest"][0] is True
    assert out["logdet_selftest_dead"][0] is False


@pytest.mark.parametrize("kind", ["rx5808", "cc2500", "cc2500_stored", "sx126x", "sx127x", "logdet"])
def test_no_allocation_per_reading(out, kind):
    assert out[f"{kind}_alloc"] == 0


ARCH = {"esp32": "xtensawin", "rp2": "armv6m", "unix": "x64"}


@pytest.mark.parametrize("board", ["esp32s3_devkitc1", "pico", "virtual"])
def test_board_profile(board):
    """The profile follows hardware/README.md and its pins do not conflict (straja.boards)."""
    p = boards.load_profile(board)
    assert p["name"] == board and ARCH[p["port"]] == p["mpy_arch"]
    assert all(":" in u for u in p["usb"])
    names = [fe["name"] for fe in p["front_ends"]]
    assert len(set(names)) == len(names) and all(len(name) <= 16 for name in names)
    assert all(fe["band_khz"][0] < fe["band_khz"][1] for fe in p["front_ends"])
