"""Switching a node's power for reboot and brown-out tests.

On a rig the switch is a command template run for `off` and `on`, for example a USB hub with
per-port power switching driven by uhubctl (github.com/mvp/uhubctl; hubs whose ports really switch
VBUS are listed there):

    --power-cmd "uhubctl -l 1-1 -p {index} -a {action}"

`{action}` is `off` or `on`, `{index}` the node's hub port (`--power-index`, by default its
position in --node-port counted from 1), `{port}` its serial port. A virtual node is switched by
its bridge: unplugged and plugged back (the port path changes, as USB may renumber it), or, for an
off time of 0, its interpreter is killed and restarts at once (the supply dipped; the port stays).
"""
from __future__ import annotations

import shlex
import subprocess
import time


class CommandPower:
    """A rig's switch: `template` formatted with action, index and port, run without a shell."""

    def __init__(self, template: str, index: int, port: str, timeout_s: float = 30.0):
        self.template = template
        self.index = index
        self.port = port
        self.timeout_s = timeout_s

    def argv(self, action: str) -> list[str]:
        return shlex.split(self.template.format(action=action, index=self.index, port=self.port))

    def switch(self, action: str) -> None:
        done = subprocess.run(self.argv(action), capture_output=True, text=True,
                              timeout=self.timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"power {action} for {self.port} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-300:]}")

    def cycle(self, off_s: float) -> str:
        self.switch("off")
        time.sleep(off_s)
        self.switch("on")
        return self.port


class VirtualPower:
    """The switch of a virtual node (a straja.hil.virtual.FirmwareNode)."""

    def __init__(self, firmware_node):
        self.vnode = firmware_node.node

    def cycle(self, off_s: float) -> str:
        if off_s <= 0:
            self.vnode.power_cut()
            return self.vnode.port
        self.vnode.unplug()
        time.sleep(off_s)
        return self.vnode.replug()
