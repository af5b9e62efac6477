"""Flashing MicroPython itself: what the unit tests (tests/test_tools_flash.py) check up to the
boundary of real hardware (esptool's arguments and offsets per chip, a fake BOOTSEL drive), done
for real on a rig's board, then the node brought back to streaming with `straja deploy`. It erases
the board: its node id and config are gone afterwards (`straja provision` it again)."""
import pytest

from straja import protocol
from straja.tools import flash
from straja.tools.deploy import Deployer
from straja.link import NodeLink

pytestmark = pytest.mark.hil


def test_flash_micropython_then_deploy_and_stream(request):
    image = request.config.getoption("micropython_image")
    if image is None:
        pytest.skip("give --micropython-image FILE (the board's MicroPython build) to flash it")
    port = request.config.getoption("node_port")[0].split(",")[0]
    if image.suffix.lower() == ".uf2":
        pytest.skip("RP2040: hold BOOTSEL and run `straja flash-micropython` by hand "
                    "(a rig cannot press the button)")
    probe = flash.flash_image(port, image, erase=True)
    assert probe["micropython"], probe
    result = Deployer().deploy(probe["port"])
    assert result.status == "deployed", result
    with NodeLink(probe["port"]) as link:
        link.call("start", timeout=10)
        frames = link.frames(20, timeout=60, drain=True)
    assert any(f.type == protocol.SWEEP for f in frames)
