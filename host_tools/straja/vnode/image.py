"""The factory image of a virtual node's flash: the firmware tree, the board profile, a config.

On a board `straja deploy` puts the same files in place; for a virtual node the flash is a folder,
so its first image is copied in directly.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..paths import FIRMWARE, board_profile_path

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mpy")


def write_image(flash_dir: Path, *, board: str = "virtual", config: dict | None = None) -> Path:
    """Copy the firmware into `flash_dir` (replacing older firmware files) and return the folder.

    `config` (a partial config: the firmware fills in defaults) is written to config.json only when
    given, so a node keeps its config across re-imaging as a board keeps it across deploys.
    """
    flash_dir = Path(flash_dir)
    flash_dir.mkdir(parents=True, exist_ok=True)
    for entry in FIRMWARE.iterdir():
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        target = flash_dir / entry.name
        if entry.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(entry, target, ignore=IGNORED)
        else:
            shutil.copy2(entry, target)
    shutil.copy2(board_profile_path(board), flash_dir / "board.json")
    if config is not None:
        (flash_dir / "config.json").write_text(json.dumps(config, sort_keys=True))
    return flash_dir
