"""Where the project's non-Python parts are: firmware sources, board profiles, scenes.

In a checkout (the editable install `make` does) they are the repository's folders.
"""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
HARDWARE = REPO / "hardware"
BOARDS = HARDWARE / "boards"
SCENES = REPO / "scenes"


def board_profile_path(name: str) -> Path:
    """The JSON profile of board `name` (e.g. "virtual", "esp32s3_devkitc1", "pico")."""
    path = BOARDS / f"{name}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BOARDS.glob("*.json"))) or "none"
        raise FileNotFoundError(f"no board profile {name!r} in {BOARDS} (known: {known})")
    return path
