"""A fleet of virtual nodes: each the real firmware under MicroPython, on its own serial port,
with a virtual board whose radios receive a simulated RF scene. Each board serves from its own
process (VirtualBoard's `own_process`), so no node's bus answers wait for another's, nor for
whatever else runs in the process that holds the fleet."""
from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import board_profile_path
from ..vboard import VirtualBoard
from .bridge import VirtualNode
from .image import write_image


@dataclass
class NodeSpec:
    name: str
    node_id: int
    board: str = "virtual"
    config: dict = field(default_factory=dict)


@dataclass
class RunningNode:
    spec: NodeSpec
    node: VirtualNode
    board: object  # straja.vboard.VirtualBoard

    @property
    def port(self) -> str:
        return self.node.port


def scene_rf(scene, node_name: str, profile: dict) -> dict:
    """The RF input of each of a board's front ends: the scene front end of that node whose
    antenna band covers the board front end's band, or else the one whose band lies nearest (its
    antenna's out-of-band loss applies): the scene names front ends by part, the board profile by
    role, and a scene need not describe every radio a board has."""
    node = scene.nodes[node_name]

    def distance(fe, hz: float) -> float:
        if fe.band is None:
            return 0.0
        return max(fe.band[0] - hz, hz - fe.band[1], 0.0)

    out = {}
    for entry in profile.get("front_ends", []):
        mid_hz = sum(entry["band_khz"]) * 500.0
        nearest = min(range(len(node.front_ends)), key=lambda i: distance(node.front_ends[i], mid_hz))
        out[entry["name"]] = scene.node(node_name, nearest)
    return out


def pair_cpus(index: int, nodes: int) -> set[int] | None:
    """The one CPU node `index` of `nodes` puts its interpreter and board on (None: any CPU). The
    two take turns (a reading is a request, then its answer): on one CPU a round trip wakes no
    other CPU, which on a virtual machine costs both processes more CPU than the request's own
    work, and lets the answer wait for the waking (bench/overrun_probe.py --unpaired,
    docs/virtual-node.md "Timing"). Nodes go round the CPUs this process may use, from one
    picked by its process id, so that fleets of one node in several processes spread. Only while
    each node has a CPU of its own: with more nodes than CPUs they run on any, as the machine
    balances them (3 nodes on 2 CPUs, the demo's: two sharing a CPU fell short of it while the
    third had one to spare, 1 560 overruns a second against 160; at real-time priority 13-24
    against 3, unpinned 4-7: bench/overrun_probe.py --paired)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if not 1 < len(allowed) or nodes > len(allowed):
        return None
    return {allowed[(os.getpid() + index) % len(allowed)]}


class Fleet:
    """Start with `start()` (or `with Fleet(...) as fleet:`), stop with `stop()`.

    `rf_for(name, profile)` gives the RF input of node `name` for a board `profile`: an object
    with `band_power_dbm` or a dict of them by front-end name (see straja.vboard). `workdir` holds
    each node's flash folder; a temporary one by default. `bluetooth_for(name)`: what node
    `name`'s Bluetooth radio hears (straja.vboard.ble), or None for nothing.
    `real_time_boards`: the boards at the lowest real-time priority where the OS allows it
    (straja.vboard.server.answer_at_once); False keeps them at the policy they start with.
    """

    def __init__(self, specs: list[NodeSpec], rf_for, workdir: Path | None = None,
                 t_origin: float | None = None, bluetooth_for=None, pair_cpus: bool = True,
                 real_time_boards: bool = True):
        self.specs = specs
        self.pair_cpus = pair_cpus
        self.real_time_boards = real_time_boards
        self.rf_for = rf_for
        self.bluetooth_for = bluetooth_for
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="straja-fleet-")
        self.workdir = Path(workdir or self._tmp.name)
        self.t_origin = t_origin
        self.nodes: list[RunningNode] = []
        self._sockets = tempfile.TemporaryDirectory(prefix="straja-vb-")  # short AF_UNIX paths

    def start(self) -> "Fleet":
        if self.t_origin is None:
            self.t_origin = time.monotonic()
        try:
            for spec in self.specs:
                flash = self.workdir / spec.name / "flash"
                config = {"node_id": spec.node_id, **spec.config}
                write_image(flash, board=spec.board, config=config)
                profile = json.loads(board_profile_path(spec.board).read_text())
                sock = str(Path(self._sockets.name) / f"{spec.node_id}.sock")
                cpus = self._pair_cpus(len(self.nodes))
                board = VirtualBoard(profile, self.rf_for(spec.name, profile), sock,
                                     t_origin=self.t_origin, seed=spec.node_id,
                                     bluetooth=self.bluetooth_for and self.bluetooth_for(spec.name),
                                     own_process=True, cpus=cpus,
                                     real_time=self.real_time_boards)
                node = VirtualNode(flash, name=spec.name, heap=profile.get("heap", "320K"),
                                   cpus=cpus, env={
                    "STRAJA_VBOARD": sock,
                    "STRAJA_UID": secrets.token_hex(6) if spec.node_id == 0 else f"{spec.node_id:012x}",
                })
                self.nodes.append(RunningNode(spec, node, board))
            # every board forked before any node's bridge thread runs: a child copies no thread
            # mid-work, and no other node's pseudo-terminal
            for running in self.nodes:
                running.board.start()
            for running in self.nodes:
                running.node.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _pair_cpus(self, index: int) -> set[int] | None:
        """The one CPU node `index`'s interpreter and board share (None: any CPU): pair_cpus."""
        return pair_cpus(index, len(self.specs)) if self.pair_cpus else None

    def stop(self) -> None:
        for running in reversed(self.nodes):
            running.node.stop()
            running.board.stop()
        self.nodes.clear()
        self._sockets.cleanup()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> "Fleet":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
