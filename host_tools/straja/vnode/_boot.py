# The virtual board's ROM, run by the MicroPython unix port before its REPL (`micropython -i`).
# It does what a board's C start-up does: mount the flash at "/", make it the working directory,
# set a board's sys.path, then run boot.py and, in friendly-REPL mode, main.py, printing an
# unhandled exception's traceback and going on to the REPL as pyexec does.
import os
import sys
import vfs


class _Flash(vfs.VfsPosix):
    # A board's filesystems (LittleFS, FAT) list a file with its size, (name, type, inode, size);
    # the unix port's VfsPosix leaves the size out, and mpremote's `fs ls` then shows 0.
    def ilistdir(self, path):
        folder = path.rstrip("/") + "/" if path not in ("", ".") else ""
        for entry in super().ilistdir(path):
            size = 0 if entry[1] == 0x4000 else self.stat(folder + entry[0])[6]
            yield entry[0], entry[1], entry[2], size


vfs.umount("/")
vfs.mount(_Flash(os.getenv("STRAJA_FLASH")), "/")
os.chdir("/")
sys.path[:] = ["", "/lib"]


def _reset(e):
    # Under `micropython -i` a SystemExit raised by a script drops to the REPL instead of ending
    # the process, where a board would reset: ask the bridge for the reset with a signal that
    # ends this process (SIGUSR2: hard reset, for the hardware layer's exit code 86; SIGUSR1: soft).
    code = e.args[0] if e.args else 0
    os.system("kill -%s $PPID" % ("USR2" if code == 86 else "USR1"))


def _run(name):
    try:
        os.stat(name)
    except OSError:
        return True
    try:
        with open(name) as f:
            source = f.read()
        exec(compile(source, name, "exec"), globals())
    except SystemExit as e:
        _reset(e)
    except BaseException as e:  # noqa: B036 - a board prints every exception, Ctrl-C included
        sys.print_exception(e)
        return False
    return True


if _run("boot.py") and os.getenv("STRAJA_REPL_MODE") != "raw":
    _run("main.py")
del _Flash, _reset, _run, os, sys, vfs
