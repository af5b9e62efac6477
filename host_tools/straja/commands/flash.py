"""`straja flash-micropython`: MicroPython onto a blank board (straja.tools.flash)."""
from __future__ import annotations

from pathlib import Path

from .. import term
from ..argtypes import port_name
from .deploy import ProgressLine


def configure(p) -> None:
    p.description = ("Write the MicroPython interpreter from a local image file: an ESP32-family "
                     ".bin through esptool (chip detected, image checked, written at the chip's "
                     "offset, verified), or an RP2040/RP2350 .uf2 copied onto the BOOTSEL drive. "
                     "No network needed.")
    p.add_argument("port", metavar="PORT", type=port_name, help="serial port of an ESP32 board; `bootsel` for an "
                   "RP2 board in BOOTSEL mode")
    p.add_argument("image", metavar="IMAGE", type=Path, help="MicroPython .bin or .uf2 file")
    p.add_argument("--erase", action="store_true", help="erase the whole flash first (ESP32; "
                   "removes files and config)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..tools.flash import flash_image  # (pyserial)
    bar = ProgressLine([args.image.name])  # a UF2 copy's bar, on a terminal only
    try:
        result = flash_image(args.port, args.image, erase=args.erase,
                             progress=bar.callback(args.image.name))
    finally:
        bar.close()
    if args.json:
        term.print_json(result)
    else:
        print(f"{result['port']}: {result['chip']} now runs MicroPython {result['micropython']}")
    return term.EXIT_OK
