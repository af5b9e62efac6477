"""The hardware layer on a real board (ESP32-S3, RP2040): buses from the `machine` module.

The only module that imports `machine`. Buses are built from the board
profile (hardware/README.md); SPI buses are shared by the devices on them.
"""
import machine
from machine import ADC, SPI, Pin
from time import ticks_add, ticks_diff, ticks_us

from ..wire import (
    FLAG_OVERRUN, RESET_BROWN_OUT, RESET_DEEPSLEEP, RESET_HARD, RESET_POWER_ON, RESET_SOFT,
    RESET_UNKNOWN, RESET_WATCHDOG,
)
from .bitbang import ThreeWire

# machine.reset_cause() constant name -> protocol STATUS reset_cause code; a port lacks some names
CAUSES = (("PWRON_RESET", RESET_POWER_ON), ("HARD_RESET", RESET_HARD),
          ("WDT_RESET", RESET_WATCHDOG), ("SOFT_RESET", RESET_SOFT),
          ("DEEPSLEEP_RESET", RESET_DEEPSLEEP), ("BROWN_OUT_RESET", RESET_BROWN_OUT))


class SpiDevice:
    """One chip on a shared SPI bus: chip select low around every call."""

    def __init__(self, spi, cs):
        self.spi = spi
        self.cs = cs
        cs.value(1)

    def write(self, buf):
        self.cs.value(0)
        self.spi.write(buf)
        self.cs.value(1)

    def write_readinto(self, wbuf, rbuf):
        self.cs.value(0)
        self.spi.write_readinto(wbuf, rbuf)
        self.cs.value(1)


class TimedAdc:
    """machine.ADC with a paced block read."""

    def __init__(self, pin):
        if hasattr(ADC, "ATTN_11DB"):  # ESP32: 0..~3.1 V input range
            self.adc = ADC(Pin(pin), atten=ADC.ATTN_11DB)
        else:
            self.adc = ADC(Pin(pin))
        self.read_u16 = self.adc.read_u16  # bound once: no allocation per sample

    def read_block(self, buf, n, rate_hz):
        """Fill buf[0:n] with samples every 1/rate_hz s; flags bit 0 if a sample was late."""
        period = 1000000 // rate_hz
        read = self.read_u16
        flags = 0
        t = ticks_us()
        for i in range(n):
            buf[i] = read()
            t = ticks_add(t, period)
            if ticks_diff(t, ticks_us()) < 0:
                flags = FLAG_OVERRUN
                t = ticks_us()  # keep going at the rate from here rather than bursting to catch up
            else:
                while ticks_diff(t, ticks_us()) > 0:
                    pass
        return flags


class Board:
    def __init__(self, profile):
        self.profile = profile
        self.spis = {}

    def spi(self, bus_id):
        if bus_id not in self.spis:
            for b in self.profile["buses"]["spi"]:
                if b["id"] == bus_id:
                    self.spis[bus_id] = SPI(bus_id, baudrate=b.get("baudrate", 4000000), polarity=0,
                                            phase=0, sck=Pin(b["sck"]), mosi=Pin(b["mosi"]),
                                            miso=Pin(b["miso"]))
                    break
            else:
                raise ValueError("no SPI bus %d in the board profile" % bus_id)
        return self.spis[bus_id]


def open_board(profile):
    return Board(profile)


def pin(bd, number, out=False):
    if out:
        return Pin(number, Pin.OUT)
    return Pin(number, Pin.IN, Pin.PULL_UP)


def spi_device(bd, index, entry):
    return SpiDevice(bd.spi(entry["spi"]), pin(bd, entry["pins"]["cs"], True))


def three_wire(bd, index, entry):
    p = entry["pins"]
    return ThreeWire(pin(bd, p["data"], True), pin(bd, p["clk"], True), pin(bd, p["le"], True))


def adc(bd, index, number):
    return TimedAdc(number)


class Watchdog:
    """The hardware watchdog, fed by the application's loop.

    machine.WDT cannot be stopped once started (ESP32, RP2). When the application stops (Ctrl-C,
    a crash) release() hands the feeding to a timer, so a technician at the REPL, or a deploy,
    is not reset under their feet; a node hung so hard that timer callbacks stop is still reset.
    """

    def __init__(self, timeout_ms):
        self.wdt = machine.WDT(timeout=timeout_ms)
        self.period_ms = max(timeout_ms // 3, 10)
        self.timer = None

    def feed(self):
        self.wdt.feed()

    def release(self):
        if self.timer is not None:
            return
        try:
            self.timer = machine.Timer(-1)  # a virtual (software) timer: RP2
        except ValueError:
            self.timer = machine.Timer(0)  # ESP32 has hardware timers only
        self.timer.init(period=self.period_ms, mode=machine.Timer.PERIODIC,
                        callback=lambda t: self.wdt.feed())


def watchdog(timeout_ms):
    return Watchdog(timeout_ms)


def reset():
    machine.reset()


def reset_cause():
    cause = machine.reset_cause()
    for name, code in CAUSES:
        if getattr(machine, name, None) == cause:
            return code
    return RESET_UNKNOWN


def unique_id():
    return machine.unique_id()


def safe_pin_low(profile):
    number = profile.get("safe_pin")
    return number is not None and Pin(number, Pin.IN, Pin.PULL_UP).value() == 0


def led(profile, on):
    spec = profile.get("led")
    if not spec:
        return
    if spec.get("type") == "neopixel":
        import neopixel
        np = neopixel.NeoPixel(Pin(spec["pin"], Pin.OUT), 1)
        np[0] = (0, 16, 0) if on else (0, 0, 0)
        np.write()
    else:
        Pin(spec["pin"], Pin.OUT).value(1 if on else 0)


def bluetooth():
    try:
        import bluetooth
    except ImportError:  # a port built without Bluetooth (RP2040)
        return None
    return bluetooth.BLE()


def bluetooth_events():
    pass  # the stack calls the IRQ handler itself


def idle(deadline=0, reading=-1):
    pass  # a bus write is done when it returns; a reading is taken when its step runs
