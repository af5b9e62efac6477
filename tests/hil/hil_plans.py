"""Helpers of the HIL suite. The suite drives nodes only through the straja plugin's fixtures
(`node`, `nodes`, `hil_options`), so the same tests run on virtual nodes and, with --node-port, on
a rig. (A module, not a conftest.py: tests elsewhere import the top-level conftest by name.)"""
from __future__ import annotations

import re

from straja.paths import FIRMWARE

SWEEP_KINDS = ("cc2500", "sx126x", "sx127x")  # fast-settling tuners (settle <= 900 us)


def quick_plan(front_ends: list[dict]) -> list[dict]:
    """A plan that streams many frames a second on any board: each fast tuner across its band in
    8 channels of 1 ms (tuning and settling included), each log detector in 64-sample blocks at
    20 kHz. The RX5808 (30 ms settle) is left out."""
    plan = []
    for fe in front_ends:
        lo, hi = fe["band_khz"]
        if fe["kind"] in SWEEP_KINDS:
            step = (hi - lo) // 8
            plan.append({"front_end": fe["name"], "start_khz": lo + step // 2,
                         "stop_khz": lo + step // 2 + 7 * step, "step_khz": step,
                         "dwell_us": 1000})
        elif fe["kind"] == "logdet":
            plan.append({"front_end": fe["name"], "rate_hz": 20000, "n": 64})
    assert plan, f"no front end to stream from: {front_ends}"
    return plan[:8]


def start_streaming(node, heartbeat_ms: int = 200) -> dict:
    """Set the quick plan and a STATUS every `heartbeat_ms`, start streaming; the node's info."""
    info = node.info()
    node.call("plan", quick_plan(info["front_ends"]), timeout=10)
    node.set_config({"heartbeat_ms": heartbeat_ms})
    assert node.call("start")["streaming"] is True
    return info


def firmware_version() -> str:
    """straja_node.VERSION of the firmware in this repository (what the nodes should run)."""
    text = (FIRMWARE / "straja_node" / "__init__.py").read_text()
    return re.search(r'VERSION = "([^"]+)"', text).group(1)


def restart(node) -> dict:
    """A hard restart: a power cycle where the rig can switch power (every virtual node can),
    else the `reboot` command. Returns the info once the firmware answers again."""
    if node.can_power_cycle:
        node.power_cycle()
    else:
        assert node.call("reboot") == {"rebooting": True}
    return node.wait_ready(timeout=30)
