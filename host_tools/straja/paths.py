"""Where the project's non-Python parts are: firmware sources, board profiles, scenes.

In a checkout (the editable install `make` does) they are the repository's folders.
"""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
HARDWARE = REPO / "hardware"
BOARDS = HARDWARE / "boards"
SCENES = REPO / "scenes"
# a board profile's name: a file name in BOARDS, never a path (a node reports its own name)
BOARD_NAME = re.compile(r"[a-z0-9_-]+")


def board_profile_path(name: str) -> Path:
    """The JSON profile of board `name` (e.g. "virtual", "esp32s3_devkitc1", "pico").

    Raises ValueError for a name that is not BOARD_NAME, FileNotFoundError for an unknown one."""
    if not isinstance(name, str) or not BOARD_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a board profile name (a-z, 0-9, _ and - only)")
    path = BOARDS / f"{name}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BOARDS.glob("*.json"))) or "none"
        raise FileNotFoundError(f"no board profile {name!r} in {BOARDS} (known: {known})")
    return path
