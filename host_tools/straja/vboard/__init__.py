"""The virtual board: register-level models of the node's RF chips behind the socket that the
firmware's unix hardware layer talks to (firmware/straja_node/hw/board_unix.py)."""
from .server import VirtualBoard
from .sources import NoiseOnly, ToneSource

__all__ = ["VirtualBoard", "NoiseOnly", "ToneSource"]
