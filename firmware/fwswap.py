# The atomic firmware switch of `straja deploy` (docs/field-guide.md, "How a deploy stays safe").
#
# `straja deploy` writes every changed file into /.deploy/new/ and the new manifest into
# /.deploy/manifest.new, verifying each by its SHA-256 on the node, then runs switch(). switch()
# writes a journal, moves the staged files into place (keeping what they replace in /.deploy/old/),
# and commits by renaming the new manifest over /.deploy/manifest.json. recover(), run first thing
# in boot.py, undoes a switch that was cut before its commit, so a deploy cut off at any byte leaves
# the node booting its previous version. Unchanged files are never touched, so they need no copy.
#
# Top-level files (boot.py, main.py, this file) are backed up by copy and replaced by one rename
# over the old file, so none of them is ever missing at a boot: a missing boot.py would skip this
# recovery. Package files are backed up by rename: nothing imports them before recover() has run.
# A rename over an existing file is atomic on LittleFS (the ESP32 and RP2 default) and POSIX.
#
# This module imports nothing from straja_node, so it works when the package is missing or broken,
# and it stays a .py file, so it still loads after a MicroPython upgrade changes the .mpy version.
# Paths are relative to the root (the working directory at boot, made sure of here): the unix
# port's VfsPosix mounted at "/" fails os.rename of absolute paths with ENOENT.
import json
import os

DEPLOY = ".deploy"
NEW = DEPLOY + "/new/"
OLD = DEPLOY + "/old/"
JOURNAL = DEPLOY + "/journal.json"
MANIFEST = DEPLOY + "/manifest.json"
STAGED_MANIFEST = DEPLOY + "/manifest.new"
_DIR = 0x4000


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _makedirs(path):
    """Create the folders above file `path`."""
    folder = ""
    for part in path.split("/")[:-1]:
        folder += part
        if not _exists(folder):
            os.mkdir(folder)
        folder += "/"


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def rmtree(path):
    try:
        entries = list(os.ilistdir(path))
    except OSError:
        return
    for entry in entries:
        child = path + "/" + entry[0]
        if entry[1] == _DIR:
            rmtree(child)
        else:
            _remove(child)
    try:
        os.rmdir(path)
    except OSError:
        pass


def _copy(src, dst):
    """A complete copy or none: written beside `dst`, then renamed."""
    _makedirs(dst)
    part = dst + ".part"
    buf = bytearray(512)
    with open(src, "rb") as fin:
        with open(part, "wb") as fout:
            while True:
                n = fin.readinto(buf)
                if not n:
                    break
                fout.write(memoryview(buf)[:n])
    os.rename(part, dst)


def _manifest_id():
    try:
        with open(MANIFEST) as f:
            return json.load(f).get("id")
    except (OSError, ValueError):
        return None


def _backup(path):
    _makedirs(OLD + path)
    if "/" in path:
        os.rename(path, OLD + path)
    else:
        _copy(path, OLD + path)


def switch(put, drop):
    """Move the staged files `put` into place and set aside `drop` (paths relative to the root),
    then commit the staged manifest. Returns the new manifest's id."""
    os.chdir("/")
    with open(STAGED_MANIFEST) as f:
        new_id = json.load(f)["id"]
    had = [p for p in put if _exists(p)]
    tmp = JOURNAL + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"id": new_id, "put": put, "drop": drop, "had": had}, f)
    os.rename(tmp, JOURNAL)
    for path in put:
        if path in had:
            _backup(path)
        _makedirs(path)
        os.rename(NEW + path, path)
    for path in drop:
        if _exists(path):
            _makedirs(OLD + path)
            os.rename(path, OLD + path)
    os.rename(STAGED_MANIFEST, MANIFEST)  # the commit point
    _finish()
    return new_id


def _finish():
    _remove(JOURNAL)
    rmtree(DEPLOY + "/old")
    rmtree(DEPLOY + "/new")


def _roll_back(journal):
    """Put every set-aside file back and remove files the switch added. Safe to repeat if cut."""
    for path in journal["put"] + journal["drop"]:
        if _exists(OLD + path):
            os.rename(OLD + path, path)
        elif path not in journal["had"] and path not in journal["drop"]:
            _remove(path)
    _finish()


def recover():
    """At boot: finish a committed switch or roll back an uncommitted one. Returns what it did."""
    os.chdir("/")
    try:
        with open(JOURNAL) as f:
            journal = json.load(f)
    except OSError:
        return None  # no switch in progress: the usual case, one failed open
    except ValueError:
        _remove(JOURNAL)  # cannot happen (written then renamed); never block a boot on it
        return None
    if _manifest_id() == journal["id"]:
        _finish()
        return "finished"
    _roll_back(journal)
    print("fwswap: an interrupted deploy was rolled back")
    return "rolled back"
