# Runs each driver on recording fake buses and prints one JSON object: the bytes each driver
# sent for known frequencies, its RSSI codes for known register / ADC values, and the heap
# allocated by tune() + rssi_code() after warm-up (tests/test_drivers.py checks them).
import gc
import json
from array import array
from time import ticks_add, ticks_ms

from fakebus import FakeAdc, FakePin, FakeSpi, FakeWire, Log
from straja_node.drivers.cc2500 import RECAL_MS, Cc2500
from straja_node.drivers.logdet import LogDet
from straja_node.drivers.rx5808 import Rx5808
from straja_node.drivers.sx126x import Sx126x
from straja_node.drivers.sx127x import Sx127x
from straja_node.hw.bitbang import ThreeWire

out = {}


def tunes(fe, log, freqs):
    res = {}
    for f in freqs:
        log.take()
        fe.tune(f)
        res[str(f)] = log.take()
    return res


def codes_for(fe, answer, values):
    """RSSI codes with the chip answering each of `values` (answer(v) sets the fake's reply)."""
    res = {}
    for v in values:
        answer(v)
        res[str(v)] = fe.rssi_code()
    return res


def alloc(fe, log, freq):
    log.record = False
    fe.tune(freq)
    fe.rssi_code()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(50):
        fe.tune(freq)
        fe.rssi_code()
    used = gc.mem_alloc() - before
    gc.enable()
    log.record = True
    return used


# RX5808
log = Log()
adc = FakeAdc()
rx = Rx5808("vid58", FakeWire(log), adc, {"rssi_min": 10000, "rssi_max": 24000})
out["rx5808_words"] = tunes(rx, log, (5865000, 5658000, 5917000, 5733000, 5645000))
out["rx5808_codes"] = codes_for(rx, lambda v: setattr(adc, "value", v), (0, 10000, 17000, 24000, 65535))
out["rx5808_alloc"] = alloc(rx, log, 5800000)
pins = Log()
wire = ThreeWire(FakePin(pins, "data"), FakePin(pins, "clk"), FakePin(pins, "le"))
pins.take()
wire.write_word(0x2A05 << 5 | 0x11, 25)
out["bitbang"] = pins.take()

# CC2500
log = Log()
spi = FakeSpi(log)
spi.answers = {0xF0: (0x0F, 0x80), 0xF1: (0x0F, 0x03)}
cc = Cc2500("ism24", spi)
out["cc2500_setup"] = log.take()
out["cc2500_tunes"] = tunes(cc, log, (2400000, 2441750))
out["cc2500_codes"] = codes_for(cc, lambda v: spi.answers.update({0xF4: (0x0F, v)}), (0x00, 0x80, 0x7F, 0xEC))
out["cc2500_selftest"] = cc.selftest()
out["cc2500_alloc"] = alloc(cc, log, 2440000)
# fast tuning: the chip answers an FSCAL3..1 read with values of the carrier last written (a
# different FSCAL1 per channel, as its VCO capacitance calibration is; no allocation here)
fscal = bytearray((0x0F, 0xA9, 0x2A, 0))
spi.answers[0xE3] = fscal
spi_write = spi.write


def write(buf):
    if buf[0] == 0x40 | 0x0D:
        fscal[3] = buf[2]  # FREQ1
    spi_write(buf)


spi.write = write
log.take()
cc.store_channels(array("i", (2400000, 2441750, 2483000)))
out["cc2500_store"] = log.take()
out["cc2500_stored_tunes"] = tunes(cc, log, (2441750, 2400000, 2420000, 2483000))
out["cc2500_recal_due"] = [cc.recal_due()]
cc.cal_ms = ticks_add(ticks_ms(), -RECAL_MS)
out["cc2500_recal_due"].append(cc.recal_due())
out["cc2500_stored_alloc"] = alloc(cc, log, 2483000)
log.record = False
gc.collect()
before = gc.mem_alloc()
cc.recalibrate()
out["cc2500_recal_alloc"] = gc.mem_alloc() - before
out["cc2500_recal_due"].append(cc.recal_due())
log.record = True

# SX1262
log = Log()
spi = FakeSpi(log)
busy = FakePin(log, "busy", 0)
sx = Sx126x("subg", spi, busy, FakePin(log, "reset", 1), None, (863000, 870000), {"tcxo_mv": 1800})
out["sx126x_setup"] = log.take()
out["sx126x_tunes"] = tunes(sx, log, (868100, 915000))
out["sx126x_codes"] = codes_for(sx, lambda v: spi.answers.update({0x15: (0xD0, 0xD0, v)}), (0, 64, 200, 255))
spi.answers[0xC0] = (0xD0, 0x52)
spi.answers[0x1D] = (0, 0x52, 0x52, 0x52, 0x14)
out["sx126x_selftest"] = sx.selftest()
out["sx126x_alloc"] = alloc(sx, log, 868100)
log.take()
spi.answers[0x12] = (0xD0, 0xD0, 0x01, 0x80)  # CadDone | CadDetected
out["sx126x_cad"] = [sx.cad(868100), log.take()]
spi.answers[0x12] = (0xD0, 0xD0, 0x00, 0x80)  # CadDone only
out["sx126x_cad_quiet"] = sx.cad(868100, sf=9)
busy.level = 1
try:
    sx.tune(868100)
    out["sx126x_busy"] = "no error"
except OSError as e:
    out["sx126x_busy"] = str(e)

# SX1276
log = Log()
spi = FakeSpi(log)
spi.answers = {0x42: (0, 0x12)}
s7 = Sx127x("subg2", spi)
out["sx127x_setup"] = log.take()
out["sx127x_tunes"] = tunes(s7, log, (868000, 915000, 868100))
out["sx127x_codes"] = codes_for(s7, lambda v: spi.answers.update({0x11: (0, v)}), (0, 80, 255))
out["sx127x_selftest"] = s7.selftest()
out["sx127x_alloc"] = alloc(s7, log, 868000)

# AD8318 log detector
adc = FakeAdc()
ld = LogDet("env58", adc, {"slope_udb": -2014, "intercept_mdbm": 20000}, 5800000)
out["logdet_codes"] = codes_for(ld, lambda v: setattr(adc, "value", v), (0, 9930, 34712, 49650, 65535))
adc.value = 34712
out["logdet_selftest"] = ld.selftest()
adc.value = 0
out["logdet_selftest_dead"] = ld.selftest()
out["logdet_alloc"] = alloc(ld, Log(), 0)

print(json.dumps(out))
