"""The hardware layer (docs/architecture.md, "Hardware layer contract").

Application code and drivers reach hardware only through this package. The board implementation
is picked by port: `board_unix` (the virtual board: buses proxied to a server over an AF_UNIX
socket) on the unix port, `board_machine` (machine.Pin/SPI/ADC/WDT) on ESP32 and RP2. Both give
the same buses:

- SPI device: `write(buf)`, `write_readinto(wbuf, rbuf)`; chip select is handled per call.
- 3-wire bus (RX5808): `write_word(word, nbits)`, shifted out LSB first inside one LE pulse.
- ADC: `read_u16()`, `read_block(buf, n, rate_hz)` -> flags (bit 0 OVERRUN).
- Pin: `value()` / `value(v)`.
"""
import json
import sys

if sys.platform in ("linux", "darwin"):
    from . import board_unix as board
else:
    from . import board_machine as board

PROFILE = "board.json"
_profile = None


def profile():
    """The board profile (hardware/README.md), loaded once from `board.json` at the flash root."""
    global _profile
    if _profile is None:
        with open(PROFILE) as f:
            _profile = json.loads(f.read())
    return _profile


def _cal(entry, config):
    """Profile default calibration overlaid with the unit's own from config["cal"][name]."""
    cal = dict(entry.get("cal", {}))
    cal.update(config.get("cal", {}).get(entry["name"], {}))
    return cal


def _pin(board, bd, entry, role, out=False):
    pins = entry.get("pins", {})
    return board.pin(bd, pins[role], out) if role in pins else None


def _rx5808(board, bd, i, entry, cal):
    from ..drivers.rx5808 import Rx5808
    return Rx5808(entry["name"], board.three_wire(bd, i, entry), board.adc(bd, i, entry["pins"]["rssi"]),
                  cal, entry.get("band_khz"))


def _cc2500(board, bd, i, entry, cal):
    from ..drivers.cc2500 import Cc2500
    return Cc2500(entry["name"], board.spi_device(bd, i, entry), cal, entry.get("band_khz"))


def _sx126x(board, bd, i, entry, cal):
    from ..drivers.sx126x import Sx126x
    return Sx126x(entry["name"], board.spi_device(bd, i, entry), _pin(board, bd, entry, "busy"),
                  _pin(board, bd, entry, "reset", True), cal, entry.get("band_khz"),
                  entry.get("options", {}))


def _sx127x(board, bd, i, entry, cal):
    from ..drivers.sx127x import Sx127x
    return Sx127x(entry["name"], board.spi_device(bd, i, entry),
                  _pin(board, bd, entry, "reset", True), cal, entry.get("band_khz"))


def _logdet(board, bd, i, entry, cal):
    from ..drivers.logdet import LogDet
    return LogDet(entry["name"], board.adc(bd, i, entry["pins"]["out"]), cal, entry.get("centre_khz", 0),
                  entry.get("band_khz"))


BUILDERS = {"rx5808": _rx5808, "cc2500": _cc2500, "sx126x": _sx126x, "sx127x": _sx127x,
            "logdet": _logdet}


def front_ends(config):
    """Driver objects for the profile's front ends, in profile order (the frames' front_end index),
    each calibrated with the profile's defaults overlaid by config["cal"][name]. The "offset" key
    is not applied here: the scheduler adds it to every RSSI code."""
    p = profile()
    return build_front_ends(board, board.open_board(p), p, config)


def build_front_ends(board, bd, p, config):
    """front_ends() on the buses of `board` (a board module, or on the host an object with its
    pin/spi_device/three_wire/adc functions: the evaluation's virtual-time bus) opened as `bd`."""
    out = []
    for i in range(len(p.get("front_ends", []))):
        entry = p["front_ends"][i]
        kind = entry["kind"]
        if kind not in BUILDERS:
            raise ValueError("front end %s: unknown kind %s" % (entry["name"], kind))
        out.append(BUILDERS[kind](board, bd, i, entry, _cal(entry, config)))
    return out


def watchdog(timeout_ms):
    """A started watchdog; call `feed()` more often than every `timeout_ms`, and `release()`
    when the application stops (a timer then feeds it while the REPL runs)."""
    return board.watchdog(timeout_ms)


def reset():
    """Hard reset (never returns)."""
    board.reset()


def reset_cause():
    """Why the board last reset, as the protocol's STATUS code (0 power-on, 1 hard reset,
    2 watchdog, 3 soft reset, 4 deep-sleep wake, 5 brown-out, 255 unknown)."""
    return board.reset_cause()


def unique_id():
    """The MCU's unique id, bytes."""
    return board.unique_id()


def safe_pin_low():
    """True if the profile's safe-mode pin is held low (a jumper to GND at boot)."""
    return board.safe_pin_low(profile())


def bluetooth():
    """A `bluetooth.BLE` for scanning (the unix port: a stand-in fed by the virtual board), or
    None when the board has no Bluetooth."""
    return board.bluetooth()


def bluetooth_events():
    """Run the Bluetooth IRQ handler for what the radio heard: nothing to do on a board, whose
    stack calls the handler itself; on the unix port, the virtual board's advertisements."""
    board.bluetooth_events()


def idle(deadline=0, reading=-1):
    """The node is about to sleep until ticks_us() `deadline`, when its next step reads front end
    `reading` (its index; -1: the step is no reading): nothing to do on a board; on the unix port
    that reading is asked of the virtual board now, at its instant, so the board answers while the
    node sleeps (hw/board_unix.py Link.ask_ahead); else the bus writes queued for a while
    (FLUSH_AFTER_US) go to the virtual board now (the others go with the next reading)."""
    board.idle(deadline, reading)


def led(on):
    board.led(profile(), on)
