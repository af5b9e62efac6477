"""Fixtures shared by the test suite: virtual nodes running the real firmware."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from straja.paths import board_profile_path
from straja.vnode.bridge import VirtualNode
from straja.vnode.image import write_image


class FirmwareNode:
    """A virtual node running the real firmware on a virtual board whose radios hear `rf`."""

    def __init__(self, flash: Path, rf, node_id: int = 7, board: str = "virtual"):
        from straja.vboard import VirtualBoard

        self.flash = write_image(flash, board=board, config={"node_id": node_id})
        profile = json.loads(board_profile_path(board).read_text())
        self._sockdir = tempfile.TemporaryDirectory(prefix="straja-vb-")
        sock = str(Path(self._sockdir.name) / "vb.sock")
        self.board = VirtualBoard(profile, rf, sock)
        self.board.start()
        self.node = VirtualNode(self.flash, env={"STRAJA_VBOARD": sock, "STRAJA_UID": "0a0b0c0d0e0f"},
                                heap=profile.get("heap", "320K"))
        self.node.start()

    @property
    def port(self) -> str:
        return self.node.port

    def stop(self) -> None:
        self.node.stop()
        self.board.stop()
        self._sockdir.cleanup()


@pytest.fixture
def tone_rf():
    """A carrier in the middle of every virtual front end's band, over a thermal noise floor."""
    from straja.vboard.sources import ToneSource

    return ToneSource()


@pytest.fixture
def firmware_node(tmp_path, tone_rf):
    node = FirmwareNode(tmp_path / "flash", tone_rf)
    yield node
    node.stop()
