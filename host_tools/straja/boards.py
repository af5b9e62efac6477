"""Board profiles (hardware/README.md, "Board profile"), checked before a command installs one on
a node: a profile whose pins the firmware cannot use would put a node into safe mode or drive
two chips from one pin."""
from __future__ import annotations

import json

from .paths import board_profile_path

# A front end's pins by kind: (required, optional); hardware/README.md, "Front end"
PIN_ROLES = {"rx5808": ({"data", "le", "clk", "rssi"}, set()),
             "cc2500": ({"cs"}, {"gdo0"}),
             "sx126x": ({"cs", "busy", "reset"}, {"dio1"}),
             "sx127x": ({"cs", "reset"}, {"dio0"}),
             "logdet": ({"out"}, set())}
ADC_ROLES = ("rssi", "out")  # pins read as voltages: one of buses.adc


def load_profile(name: str) -> dict:
    """The profile of board `name`, checked; FileNotFoundError for an unknown board, ValueError
    naming the file and what is wrong in it."""
    path = board_profile_path(name)
    try:
        profile = json.loads(path.read_text(encoding="utf-8"))
        check_profile(profile)
    except (ValueError, OSError) as e:  # (json's errors are ValueErrors, with the line)
        raise ValueError(f"{path}: {e}") from None
    return profile


def _pin(value, where: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{where}: a pin is a GPIO number (0 or more), not {value!r}")
    return value


def check_profile(profile) -> None:
    """ValueError when `profile` is not a board profile the firmware can run: each front end of a
    known kind with its pins, SPI chips on a bus the profile has, ADC pins among buses.adc, and
    no GPIO used twice (the safe pin, the LED, the SPI buses' lines, every front end's pins)."""
    if not isinstance(profile, dict):
        raise ValueError("a board profile is a JSON object")
    buses = profile.get("buses")
    front_ends = profile.get("front_ends")
    if not isinstance(buses, dict) or not isinstance(front_ends, list) or not front_ends:
        raise ValueError("needs buses (an object) and front_ends (a list of one or more)")
    spi, adc = buses.get("spi", []), buses.get("adc", [])
    if not isinstance(spi, list) or not all(isinstance(bus, dict) and type(bus.get("id")) is int
                                            for bus in spi):
        raise ValueError("buses.spi: a list of buses, each an object with its id (a number)")
    if not isinstance(adc, list):
        raise ValueError(f"buses.adc: a list of GPIO numbers, not {adc!r}")
    spi = {bus["id"]: bus for bus in spi}
    used: dict[int, str] = {}

    def use(value, where: str) -> None:
        pin = _pin(value, where)
        if pin in used:
            raise ValueError(f"{where}: GPIO {pin} is also {used[pin]}")
        used[pin] = where

    use(profile.get("safe_pin"), "safe_pin")
    if profile.get("led") is not None:
        use(profile["led"].get("pin") if isinstance(profile["led"], dict) else None, "led.pin")
    for bus_id, bus in spi.items():
        for line in ("sck", "mosi", "miso"):
            use(bus.get(line), f"buses.spi {bus_id} {line}")
    for i, fe in enumerate(front_ends):
        where = f"front_ends[{i}]"
        if not isinstance(fe, dict) or not isinstance(fe.get("kind"), str) or \
                fe["kind"] not in PIN_ROLES:
            raise ValueError(f"{where}.kind: one of {', '.join(PIN_ROLES)}")
        required, optional = PIN_ROLES[fe["kind"]]
        pins = fe.get("pins")
        if not isinstance(pins, dict) or not required <= set(pins) or \
                not set(pins) <= required | optional:
            raise ValueError(f"{where}.pins: a {fe['kind']} has {', '.join(sorted(required))}"
                             + (f" (and {', '.join(sorted(optional))})" if optional else "")
                             + f", not {pins!r}")
        if "cs" in required and (type(fe.get("spi")) is not int or fe["spi"] not in spi):
            raise ValueError(f"{where}.spi: {fe.get('spi')!r} is none of the profile's SPI "
                             f"buses ({', '.join(map(str, spi)) or 'none'})")
        for role, value in pins.items():
            use(value, f"{where}.pins.{role}")
            if role in ADC_ROLES and value not in adc:
                raise ValueError(f"{where}.pins.{role}: GPIO {value} is not among buses.adc "
                                 f"{adc}")
