"""`straja flash-micropython` up to the boundary of real hardware: esptool's arguments and
offsets per chip (esptool itself faked), image checks, and the UF2 copy onto a fake BOOTSEL
drive with the wait for the board's return. Writing a real chip belongs to the HIL suite."""
from __future__ import annotations

import struct
import threading
import time

import pytest

from straja.errors import StrajaError
from straja.tools import flash


def esp_image(chip_id: int) -> bytes:
    header = bytearray(24)
    header[0] = flash.ESP_IMAGE_MAGIC
    struct.pack_into("<H", header, 12, chip_id)
    return bytes(header) + b"\xff" * 1000


def uf2_image(family: int, blocks: int = 3) -> bytes:
    out = bytearray()
    for i in range(blocks):
        block = struct.pack("<IIIIIIII", *flash.UF2_MAGIC[:2], flash.UF2_FAMILY_PRESENT,
                            0x10000000 + 256 * i, 256, i, blocks, family)
        out += block + bytes(476) + struct.pack("<I", flash.UF2_MAGIC[2])
    return bytes(out)


@pytest.mark.parametrize("chip,offset", [("ESP32", "0x1000"), ("ESP32-S2", "0x1000"),
                                         ("ESP32-S3", "0x0"), ("ESP32-C3", "0x0"),
                                         ("ESP32-C6", "0x0")])
def test_esptool_arguments_and_offsets_per_chip(tmp_path, chip, offset):
    steps = flash.esptool_argv("/dev/ttyACM0", chip, tmp_path / "mp.bin", erase=True)
    name = chip.lower().replace("-", "")
    assert steps[0] == ["--chip", name, "--port", "/dev/ttyACM0", "--baud", "460800", "erase-flash"]
    assert steps[1][-3:] == ["write-flash", offset, str(tmp_path / "mp.bin")]
    old = flash.esptool_argv("/dev/ttyACM0", chip, tmp_path / "mp.bin", erase=False, esptool_major=4)
    assert len(old) == 1 and old[0][-3] == "write_flash"


def test_flash_esp32_checks_the_image_then_runs_esptool(tmp_path):
    image = tmp_path / "s3.bin"
    image.write_bytes(esp_image(9))
    calls = []
    chip = flash.flash_esp32("/dev/ttyACM0", image, erase=True, run=calls.append,
                             detect=lambda port: "ESP32-S3")
    assert chip == "ESP32-S3" and len(calls) == 2
    assert calls[0][-1] == "erase-flash" and calls[1][-2:] == ["0x0", str(image)]
    with pytest.raises(StrajaError, match="built for ESP32-S2, the board is ESP32-S3"):
        image.write_bytes(esp_image(2))
        flash.flash_esp32("/dev/ttyACM0", image, run=calls.append, detect=lambda p: "ESP32-S3")
    with pytest.raises(StrajaError, match="not an ESP32 firmware image"):
        image.write_bytes(b"PK\x03\x04" + bytes(100))
        flash.flash_esp32("/dev/ttyACM0", image, run=calls.append, detect=lambda p: "ESP32-S3")


def test_uf2_family_and_damage():
    assert flash.uf2_family(uf2_image(0xE48BFF56)) == "RP2040"
    assert flash.uf2_family(uf2_image(0xE48BFF59)) == "RP2350"
    bad = bytearray(uf2_image(0xE48BFF56))
    bad[512] ^= 0xFF
    with pytest.raises(StrajaError, match="damaged"):
        flash.uf2_family(bytes(bad))


def test_uf2_copy_onto_a_fake_bootsel_drive_and_wait_for_return(tmp_path):
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\n"
                                        "Board-ID: RPI-RP2\n")
    image = tmp_path / "RPI_PICO-v1.24.1.uf2"
    image.write_bytes(uf2_image(0xE48BFF56))
    assert flash.bootsel_drives([tmp_path / "other", drive]) == [(drive, "RP2040")]

    def board_reboots():  # the ROM takes the image, the drive goes, a serial port comes
        while not (drive / image.name).exists():
            time.sleep(0.01)
        (drive / "INFO_UF2.TXT").unlink()

    t = threading.Thread(target=board_reboots)
    t.start()
    port = flash.flash_uf2(image, roots=[drive], timeout=5, find_port=lambda: "/dev/ttyACM7")
    t.join()
    assert port == "/dev/ttyACM7" and (drive / image.name).read_bytes() == image.read_bytes()

    (drive / "INFO_UF2.TXT").write_text("Board-ID: RP2350\n")
    with pytest.raises(StrajaError, match="built for RP2040, the board is RP2350"):
        flash.flash_uf2(image, roots=[drive], timeout=1, find_port=lambda: None)
    with pytest.raises(StrajaError, match="no RP2 BOOTSEL drive"):
        flash.flash_uf2(image, roots=[], timeout=1)


def test_uf2_copy_reports_progress_as_the_bytes_reach_the_drive(tmp_path):
    import io

    from straja.commands.deploy import ProgressLine

    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("Board-ID: RPI-RP2\n")
    image = tmp_path / "RPI_PICO-v1.24.1.uf2"
    image.write_bytes(uf2_image(0xE48BFF56, blocks=200))  # 100 KiB: four steps
    screen = io.StringIO()
    screen.isatty = lambda: True
    bar = ProgressLine([image.name], stream=screen)
    draw = bar.callback(image.name)
    steps = []

    def progress(done, total):
        steps.append((done, total, (drive / image.name).stat().st_size))
        draw(done, total)
        if done == total:
            (drive / "INFO_UF2.TXT").unlink()  # the board reboots once it has the last block

    flash.flash_uf2(image, roots=[drive], timeout=5, find_port=lambda: "/dev/ttyACM7",
                    progress=progress)
    total = 200 * 512
    assert [s[0] for s in steps] == [32768, 65536, 98304, total]
    assert all(t == total and on_drive >= done for done, t, on_drive in steps)
    assert "[######..............]  32%" in screen.getvalue()
    assert screen.getvalue().endswith("[####################] 100%\x1b[K")
