"""The chip models' fast paths answer exactly as their plain forms: the scatter draw is
random.gammavariate's, draw for draw, and an SPI write skipping its answer leaves the chip as the
full transfer does (the evaluation's readings must not change: bench/eval_fast_path_probe.py's
digests)."""
import math
import random

import pytest

from straja.vboard import chips
from straja.vboard.chips import Cc2500, LogDet, Sx126x, Sx127x, gamma_db
from straja.vboard.sources import ToneSource


@pytest.mark.parametrize("k", [1.0, 1.5, 46.7, 203.125, 1e4])
def test_gamma_db_draws_what_gammavariate_does(k):
    ours, theirs = random.Random(7), random.Random(7)
    draw = gamma_db(ours, k)
    for _ in range(2000):
        assert draw() == 10.0 * math.log10(theirs.gammavariate(k, 1.0 / k))
    assert ours.random() == theirs.random()  # the generators are in the same state


def test_gamma_db_refuses_fewer_than_one_look():
    with pytest.raises(ValueError, match="k must be >= 1"):
        gamma_db(random.Random(0), 0.5)


class _Board:
    def __init__(self):
        self.rf = ToneSource(2441.75e6, -60.0, period_s=0.01)
        self.rng = random.Random(3)


def _pair(model, entry):
    return model(_Board(), entry), model(_Board(), entry)


def _state(chip):
    return {k: v for k, v in vars(chip).items()
            if k not in ("board", "rf", "entry", "_scatter", "_readers", "tunings")}


# every transaction a driver makes and a few no driver makes (reads as writes, bad addresses)
CC2500_TRAFFIC = [b"\x30", b"\x36", bytes((0x4D, 0x5C, 0x4E, 0xC4)), b"\x34", b"\xF4\x00",
                  b"\x0A\x05", b"\x10\x2D", bytes((0x6E, 1, 2, 3, 4)), b"\xF0\x00", b"\xB4\x00\x00",
                  b"\x8D\x00\x00", bytes((0x2F, 7, 8)), b"\x36", b"\x35\x01", b"\xF4\x00"]
SX126X_TRAFFIC = [b"\x80\x00", bytes((0x86, 0x36, 0x40, 0x00, 0x00)), b"\x82\xff\xff\xff",
                  b"\x15\x00\x00", b"\x8A\x01", bytes((0x8B, 7, 6, 1, 0)), b"\x88\x02\x14\x0a\x00",
                  b"\x02\xff\xff", b"\xC5", b"\x12\x00\x00\x00", b"\x1D\x07\x40\x00\x00",
                  bytes((0x0D, 0x07, 0x40, 0x34)), b"\x15\x00", b"\x15\x00\x00\x00", b"\x80\x01"]


@pytest.mark.parametrize("model, entry, traffic", [
    (Cc2500, {"name": "ism24", "kind": "cc2500"}, CC2500_TRAFFIC),
    (Sx126x, {"name": "subg", "kind": "sx126x"}, SX126X_TRAFFIC)])
def test_an_spi_write_changes_the_chip_as_the_transfer_does(model, entry, traffic):
    written, transferred = _pair(model, entry)
    for i, data in enumerate(traffic):
        t = 0.001 * (i + 1)
        written.spi_write(bytearray(data), t)
        transferred.spi(data, t)
        assert _state(written) == _state(transferred), data.hex()
        probe = bytes((0xF4, 0)) if model is Cc2500 else b"\x15\x00\x00"  # RSSI, a draw each
        assert written.spi(probe, t) == transferred.spi(probe, t)
    assert written.board.rng.random() == transferred.board.rng.random()


def test_cc2500_transfer_answers_status_then_registers():
    chip = Cc2500(_Board(), {"name": "ism24", "kind": "cc2500"})
    assert chip.spi(b"\xF0\x00\x00", 0.0) == b"\x00\x80\x80"  # PARTNUM twice, IDLE status
    chip.spi(b"\x34", 0.0)  # SRX
    assert chip.spi(b"\xF1\x00", 0.0) == b"\x10\x03"  # VERSION, RX status
    assert chip.spi(b"\xCD\x00\x00\x00", 0.0) == b"\x10\x5d\x93\xb1"  # FREQ2..0 after reset


# the driver's traffic in FSK (tune, RSSI) then LoRa, a burst over RegRssiValue, bursts written
# up to 0x7F and wrapping at it
SX127X_TRAFFIC = [b"\x81\x00", b"\x81\x01", b"\x92\x01", bytes((0x86, 0xD9, 0x20, 0x00)),
                  b"\x81\x05", b"\x11\x00", b"\x42\x00", b"\x0F\x00\x00\x00", b"\x81\x01",
                  bytes((0x86, 0xE4, 0xC0, 0x00)), b"\x81\x05", b"\x11\x00", b"\x81\x80",
                  b"\x81\x85", b"\x9D\x72", b"\x1B\x00", b"\x1A\x00\x00\x00", b"\xFE\x07\x08",
                  b"\xFF\x07\x08"]


def test_sx127x_one_register_path_answers_as_byte_by_byte():
    entry = {"name": "spare", "kind": "sx127x"}
    fast, plain = _pair(Sx127x, entry)
    for i, data in enumerate(SX127X_TRAFFIC):
        t = 0.001 * (i + 1)
        assert fast.spi(data, t) == plain.spi_per_byte(data, t), data.hex()
        assert fast.regs == plain.regs
    assert fast.board.rng.random() == plain.board.rng.random()


class _SceneBoard:
    def __init__(self, rf):
        self.rf = rf
        self.rng = random.Random(5)


@pytest.mark.parametrize("rf_kind", ["scene", "tone"])
def test_a_chip_reads_its_band_as_power_does(rf_kind):
    """A chip's reader (the RF input's per-band handle where it has one, NodeRF.band, else its
    band_power_dbm; the scatter's draw looked up once) reads what power() does, draw for draw."""
    if rf_kind == "scene":
        from straja.paths import SCENES
        from straja.sim import load_scene
        scene = load_scene(SCENES / "urban_24ghz_background.toml")
        rf = scene.node(next(iter(scene.nodes)), "cc2500")
    else:
        rf = ToneSource(2441.75e6, -60.0, period_s=0.01)
    by_reader = Cc2500(_SceneBoard(rf), {"name": "ism24", "kind": "cc2500"})
    by_power = Cc2500(_SceneBoard(rf), {"name": "ism24", "kind": "cc2500"})
    for i in range(400):
        f, t = 2400e6 + (i % 40) * 2e6 + 0.25e6, 0.5 + i * 1.3e-3
        assert by_reader.reader(f, 812.5e3)(t) == by_power.power(f, 812.5e3, Cc2500.WINDOW_S, t)
    assert by_reader.board.rng.random() == by_power.board.rng.random()


def test_a_chip_keeps_a_bounded_number_of_readers(monkeypatch):
    """A firmware tuning ever new frequencies (a hostile or broken one) does not grow a chip's
    readers without bound."""
    monkeypatch.setattr(chips, "TUNINGS_MAX", 8)
    chip = LogDet(_SceneBoard(ToneSource()), {"name": "env58", "kind": "logdet"})
    for i in range(30):
        chip.reader(5.8e9 + i * 1e6, 300e6)(1.0)
        assert len(chip._readers) <= 8
