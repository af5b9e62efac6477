"""Flashing (`straja flash-micropython`): the MicroPython interpreter onto a blank board, from a
local image.

- ESP32 family: esptool used as a library. The chip is detected first, the image is checked
  against it (an ESP image starts with magic 0xE9 and names its chip in the extended header's
  chip id, Espressif "App Image Format"), then erase (optional) and write at the chip's bootloader
  offset (ESP32 and ESP32-S2 0x1000, ESP32-S3/C3/C6 0x0, as MicroPython's downloads page says);
  esptool verifies the written flash by its MD5 and resets the chip.
- RP2040/RP2350: the UF2 is copied onto the BOOTSEL drive (found by its INFO_UF2.TXT); the board
  reboots into MicroPython, and the new serial port is waited for. A UF2 is checked first: magic
  numbers and the family id of its blocks (Microsoft's UF2 spec; RP2040 datasheet 2.8.4).
"""
from __future__ import annotations

import os
import shutil
import struct
import time
from pathlib import Path

from .. import term
from ..errors import StrajaError
from .ports import candidates, resolve
from .session import Session, probe

ESP_OFFSETS = {"ESP32": 0x1000, "ESP32-S2": 0x1000, "ESP32-S3": 0x0, "ESP32-C3": 0x0,
               "ESP32-C6": 0x0}
# Chip ids in an ESP image's extended header (esptool's IMAGE_CHIP_ID per chip class).
ESP_IMAGE_CHIP_IDS = {0: "ESP32", 2: "ESP32-S2", 5: "ESP32-C3", 9: "ESP32-S3", 13: "ESP32-C6"}
ESP_IMAGE_MAGIC = 0xE9

UF2_MAGIC = (0x0A324655, 0x9E5D5157, 0x0AB16F30)  # start 0, start 1, end
UF2_FAMILY_PRESENT = 0x2000
UF2_FAMILIES = {0xE48BFF56: "RP2040", 0xE48BFF57: "absolute", 0xE48BFF59: "RP2350",
                0xE48BFF5A: "RP2350", 0xE48BFF5B: "RP2350"}  # RP2350: ARM-S, RISC-V, ARM-NS
BOOTSEL_BOARD_IDS = {"RPI-RP2": "RP2040", "RP2350": "RP2350"}


def esp_image_chip(image: bytes) -> str | None:
    """The chip an ESP32-family image (bootloader at its start) is built for, or StrajaError."""
    if len(image) < 24 or image[0] != ESP_IMAGE_MAGIC:
        raise StrajaError("this is not an ESP32 firmware image (no 0xE9 magic at its start)",
                          "use the .bin from micropython.org/download for your board")
    chip_id = struct.unpack_from("<H", image, 12)[0]
    return ESP_IMAGE_CHIP_IDS.get(chip_id)


def esptool_argv(port: str, chip: str, image: Path, *, erase: bool, baud: int = 460800,
                 esptool_major: int = 5) -> list[list[str]]:
    """The esptool command lines (one per step) for writing `image` to `chip` on `port`."""
    if chip not in ESP_OFFSETS:
        raise StrajaError(f"unsupported chip {chip}", f"supported: {', '.join(ESP_OFFSETS)}")
    dash = "-" if esptool_major >= 5 else "_"  # esptool 5 renamed write_flash to write-flash
    base = ["--chip", chip.lower().replace("-", ""), "--port", port, "--baud", str(baud)]
    steps = [base + [f"erase{dash}flash"]] if erase else []
    steps.append(base + [f"write{dash}flash", hex(ESP_OFFSETS[chip]), str(image)])
    return steps


def detect_esp_chip(port: str) -> str:
    # esptool comes with the `tools` extra (a gateway install lacks it) and is slow to import:
    # imported only when an ESP32 is flashed.
    from esptool.cmds import detect_chip

    try:
        loader = detect_chip(port)
    except Exception as e:  # noqa: BLE001 - esptool raises FatalError and serial errors
        raise StrajaError(f"{port}: no ESP32 bootloader answered ({e})",
                          "hold BOOT, press and release RESET, release BOOT, then try again",
                          term.EXIT_NO_DEVICE) from e
    name = loader.CHIP_NAME
    loader._port.close()
    return name


def flash_esp32(port: str, image: Path, *, erase: bool = False, run=None, detect=None) -> str:
    """Detect the chip, check the image, write it with esptool; returns the chip name.
    `run(argv)` and `detect(port)` default to esptool's own (tests pass fakes)."""
    import esptool  # lazy, as in detect_esp_chip


    data = image.read_bytes()
    chip = (detect or detect_esp_chip)(port)
    built_for = esp_image_chip(data)
    if built_for and built_for != chip:
        raise StrajaError(f"{image.name} is built for {built_for}, the board is {chip}",
                          f"download the {chip} image from micropython.org/download")
    major = int(esptool.__version__.split(".")[0])
    for argv in esptool_argv(port, chip, image, erase=erase, esptool_major=major):
        try:
            (run or esptool.main)(argv)
        except (Exception, SystemExit) as e:  # noqa: BLE001 - esptool's FatalError, exit codes
            raise StrajaError(f"esptool failed: {e}", "check the cable, then hold BOOT while "
                              "pressing RESET and try again", term.EXIT_FAILED) from e
    return chip


def uf2_family(image: bytes) -> str:
    """The chip family a UF2 image is for (every 512-byte block is checked), or StrajaError."""
    if len(image) == 0 or len(image) % 512:
        raise StrajaError("this is not a UF2 image (not whole 512-byte blocks)",
                          "use the .uf2 from micropython.org/download for your board")
    families = set()
    for off in range(0, len(image), 512):
        m0, m1, flags = struct.unpack_from("<III", image, off)
        family = struct.unpack_from("<I", image, off + 28)[0]
        if (m0, m1) != UF2_MAGIC[:2] or struct.unpack_from("<I", image, off + 508)[0] != UF2_MAGIC[2]:
            raise StrajaError(f"the UF2 image is damaged (bad magic in block {off // 512})",
                              "download the image again")
        if flags & UF2_FAMILY_PRESENT:
            families.add(UF2_FAMILIES.get(family, hex(family)))
    families.discard("absolute")
    return "/".join(sorted(families)) or "unknown"


def mount_points() -> list[Path]:
    """Where removable drives are mounted (from /proc/mounts, else the usual folders)."""
    found = []
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            found.append(Path(line.split()[1].replace("\\040", " ")))
    except OSError:
        pass
    user = os.environ.get("USER", "")
    for base in (Path("/media") / user, Path("/run/media") / user, Path("/Volumes")):
        if base.is_dir():
            found += [p for p in base.iterdir() if p.is_dir()]
    return found


def bootsel_drives(roots: list[Path] | None = None) -> list[tuple[Path, str]]:
    """(drive, chip) for every mounted RP2 BOOTSEL drive, found by its INFO_UF2.TXT."""
    drives = []
    for root in roots if roots is not None else mount_points():
        info = root / "INFO_UF2.TXT"
        try:
            text = info.read_text(errors="replace")
        except OSError:
            continue
        board = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                      if line.startswith("Board-ID:")), "")
        chip = "RP2350" if board.startswith("RP2350") else BOOTSEL_BOARD_IDS.get(board)
        drives.append((root, chip or board or "unknown"))
    return drives


UF2_CHUNK = 32768  # bytes written and synced per progress step (a BOOTSEL drive takes ~100 KB/s)


def flash_uf2(image: Path, *, roots: list[Path] | None = None, timeout: float = 30.0,
              find_port=None, progress=None) -> str:
    """Copy `image` onto the one BOOTSEL drive, wait for it to go and MicroPython's port to come;
    returns the new port. `find_port()` defaults to the first RP2 MicroPython USB port;
    `progress(done, total)` counts the bytes on the drive (each step synced, so they are there
    and not in the host's cache)."""
    data = image.read_bytes()
    family = uf2_family(data)
    drives = bootsel_drives(roots)
    if not drives:
        raise StrajaError("no RP2 BOOTSEL drive found (no mounted drive has an INFO_UF2.TXT)",
                          "hold BOOTSEL while plugging the board in; on a headless Pi mount the "
                          "drive (udisksctl mount -b /dev/sdX1)", term.EXIT_NO_DEVICE)
    if len(drives) > 1:
        raise StrajaError(f"{len(drives)} BOOTSEL drives: {', '.join(str(d) for d, _ in drives)}",
                          "connect one board in BOOTSEL mode at a time", term.EXIT_USAGE)
    drive, chip = drives[0]
    if family != "unknown" and chip in BOOTSEL_BOARD_IDS.values() and chip not in family:
        raise StrajaError(f"{image.name} is built for {family}, the board is {chip}",
                          f"download the {chip} image from micropython.org/download")
    target = drive / image.name
    with open(target, "wb") as f:  # the board reboots once the last block is written
        for start in range(0, len(data), UF2_CHUNK):
            f.write(data[start:start + UF2_CHUNK])
            f.flush()
            os.fsync(f.fileno())
            if progress:
                progress(min(start + UF2_CHUNK, len(data)), len(data))
    return wait_for_port(drive, timeout, find_port or _rp2_micropython_port)


def _rp2_micropython_port() -> str | None:
    return next((p.device for p in candidates() if p.kind == "RP2 MicroPython"), None)


def wait_for_port(drive: Path, timeout: float, find_port) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (drive / "INFO_UF2.TXT").exists():
            port = find_port()
            if port:
                return port
        time.sleep(0.2)
    raise StrajaError(f"the board did not come back as MicroPython within {timeout:g} s",
                      "unplug and replug the board; if the BOOTSEL drive is still there the image "
                      "was rejected: check it is for this chip", term.EXIT_NO_DEVICE)


def wait_for_micropython(port: str, timeout: float = 15.0) -> dict:
    """Wait until MicroPython answers on `port` (after a flash the USB port re-enumerates)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with Session(port) as s:
                info = probe(s)
                s.soft_reset()
                return info
        except Exception as e:  # noqa: BLE001 - the port comes and goes while the board boots
            last = e
            time.sleep(0.5)
    raise StrajaError(f"{port}: MicroPython did not answer after flashing ({last})",
                      "press RESET; if nothing answers, flash again with --erase",
                      term.EXIT_NO_DEVICE)


def check_image(port: str, image: Path) -> None:
    """A usage error unless `image` is a file of a kind `port` can be flashed with: checked
    before any port is looked for (a wrong argument is told first, not an absent board)."""
    if not image.is_file():
        raise StrajaError(f"no such image file: {image}", "download it before going to the field",
                          term.EXIT_USAGE)
    suffix = image.suffix.lower()
    if suffix not in (".bin", ".uf2"):
        raise StrajaError(f"{image} is neither a .bin (ESP32) nor a .uf2 (RP2) image",
                          "use the MicroPython image for the board (docs/field-guide.md)",
                          term.EXIT_USAGE)
    if suffix == ".bin" and port == "bootsel":
        raise StrajaError(f"{image} is an ESP32 image (.bin); `bootsel` takes an RP2 .uf2",
                          "an ESP32 is flashed over its serial port: straja "
                          f"flash-micropython /dev/ttyUSB0 {image}", term.EXIT_USAGE)


def flash_image(port: str, image: Path, *, erase: bool = False, progress=None) -> dict:
    """Flash `image` (chosen by its suffix) and wait for MicroPython; the probe result + port.
    `progress(done, total)`: a UF2 copy's bytes (esptool shows its own progress)."""
    check_image(port, image)
    if image.suffix.lower() == ".uf2":
        port = flash_uf2(image, progress=progress)
        chip = "RP2"
    else:
        port = resolve(port)
        if port.startswith("/") and not Path(port).exists():
            raise StrajaError(f"no such serial port: {port}", "plug the board in with a data "
                              "cable; straja ports lists what is connected", term.EXIT_NO_DEVICE)
        chip = flash_esp32(port, image, erase=erase)
    info = wait_for_micropython(port)
    return {"port": port, "chip": chip, "micropython": info["micropython"], "mpy": info["mpy"]}
