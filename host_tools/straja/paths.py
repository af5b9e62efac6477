"""Where the project's non-Python parts are: firmware sources, board profiles, scenes, and the
Cython sources (which name the compiled core's modules).

In a checkout (the editable install `make` does) they are the repository's folders. A wheel
carries copies inside the package, in straja/_data/ (setup.py's build_py puts them there), so an
installed `straja` finds them without the repository.
"""
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
DATA_FOLDERS = ("firmware", "hardware", "scenes", "src_cython")  # what a wheel ships in _data/
INSTALLED_DATA = PACKAGE / "_data"
# The repository, when this package runs from a checkout (tests, benchmarks and docs live only
# there); None in an installed wheel.
REPO = PACKAGE.parents[1] if (PACKAGE.parents[1] / "pyproject.toml").is_file() else None

DATA = INSTALLED_DATA if (INSTALLED_DATA / "firmware").is_dir() else (REPO or INSTALLED_DATA)
FIRMWARE = DATA / "firmware"
HARDWARE = DATA / "hardware"
BOARDS = HARDWARE / "boards"
SCENES = DATA / "scenes"
CYTHON_SOURCES = DATA / "src_cython"
# a board profile's name: a file name in BOARDS, never a path (a node reports its own name)
BOARD_NAME = re.compile(r"[a-z0-9_-]{1,64}")  # (a file's name: no longer than one may be)


def board_profile_path(name: str) -> Path:
    """The JSON profile of board `name` (e.g. "virtual", "esp32s3_devkitc1", "pico").

    Raises ValueError for a name that is not BOARD_NAME, FileNotFoundError for an unknown one."""
    if not isinstance(name, str) or not BOARD_NAME.fullmatch(name):
        raise ValueError(f"{repr(name)[:80]} is not a board profile name (a-z, 0-9, _ and - only) "
                         "of at most 64 characters")
    path = BOARDS / f"{name}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BOARDS.glob("*.json"))) or "none"
        raise FileNotFoundError(f"no board profile {name!r} in {BOARDS} (known: {known})")
    return path
