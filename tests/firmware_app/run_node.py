# A board's start-up for tests: the working directory (a copy of the firmware and fakehw.py) is
# mounted as the flash at "/", the fake hardware layer (fakehw.py) stands in for straja_node.hw,
# then boot.py and main.py run as on a board. An exception that ends main.py is printed (as pyexec
# does) and the process exits; Ctrl-C prints "REPL" as the board's prompt would appear.
import os
import sys

import vfs

flash = vfs.VfsPosix(os.getcwd())
vfs.umount("/")
vfs.mount(flash, "/")
os.chdir("/")
sys.path[:] = ["", "/lib"]

import fakehw  # noqa: E402 - from the flash just mounted
import straja_node  # noqa: E402

sys.modules["straja_node.hw"] = fakehw
straja_node.hw = fakehw


def run(path):
    with open(path) as f:
        source = f.read()
    exec(compile(source, path, "exec"), {"__name__": "__main__"})


try:
    run("boot.py")
    run("main.py")
    print("REPL: main.py returned")
except KeyboardInterrupt:
    print("REPL: KeyboardInterrupt")
