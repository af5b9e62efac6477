"""Small JSON files on the flash, written so that a power cut leaves the old or the new file.

A write goes to `name.tmp`, is flushed and synced, then renamed over `name.json`. On LittleFS
(the ESP32 and RP2 default) and POSIX a rename over an existing file is atomic. On FAT,
MicroPython's rename unlinks the target first, so a cut between the two steps leaves only the
tmp file: it is then complete (it was synced before the rename), and `load` promotes it. A tmp
file beside an existing target is an unfinished write and is deleted, never read.
"""
import json
import os


def _sync():
    sync = getattr(os, "sync", None)
    if sync:
        sync()


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def tmp_path(path):
    """`config.json` -> `config.tmp`."""
    dot = path.rfind(".")
    return (path[:dot] if dot > 0 else path) + ".tmp"


def write_atomic(path, text):
    """Replace file `path` by `text` (str) in one step a power cut cannot split."""
    tmp = tmp_path(path)
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
    _sync()
    os.rename(tmp, path)
    _sync()


def load(path):
    """The JSON value in `path` after recovering an interrupted write; None if there is no file.

    Raises ValueError (unparsable) or OSError (unreadable) for a damaged file.
    """
    tmp = tmp_path(path)
    if _exists(tmp):
        if _exists(path):
            _remove(tmp)
        else:
            try:
                with open(tmp) as f:
                    json.loads(f.read())
                os.rename(tmp, path)
            except (OSError, ValueError):
                _remove(tmp)
    if not _exists(path):
        return None
    with open(path) as f:
        return json.loads(f.read())
