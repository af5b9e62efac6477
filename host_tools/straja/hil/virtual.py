"""A virtual node running the real firmware on a virtual board (the stand-in for a board on a rig)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..paths import board_profile_path
from ..vboard import VirtualBoard
from ..vnode.bridge import VirtualNode
from ..vnode.image import write_image


class FirmwareNode:
    """A virtual node running the real firmware on a virtual board whose radios hear `rf`
    (an object with `band_power_dbm`, see straja.vboard)."""

    def __init__(self, flash: Path, rf, node_id: int = 7, board: str = "virtual"):
        self.flash = write_image(flash, board=board, config={"node_id": node_id})
        profile = json.loads(board_profile_path(board).read_text())
        self._sockdir = tempfile.TemporaryDirectory(prefix="straja-vb-")
        sock = str(Path(self._sockdir.name) / "vb.sock")
        self.board = VirtualBoard(profile, rf, sock)
        self.board.start()
        self.node = VirtualNode(self.flash, env={"STRAJA_VBOARD": sock,
                                                 "STRAJA_UID": f"0a0b0c0d{node_id:04x}"},
                                heap=profile.get("heap", "320K"), name=f"node{node_id}")
        self.node.start()

    @property
    def port(self) -> str:
        return self.node.port

    def stop(self) -> None:
        self.node.stop()
        self.board.stop()
        self._sockdir.cleanup()
