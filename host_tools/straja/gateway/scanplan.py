"""Adaptive scanning: when an alert is raised, neighbouring nodes dwell on the suspect band (the
nodes that see it keep their plan).

A focus plan is the plan the node runs (its `info` reply's `plan`; else its `get plan` reply)
with the entry of the front end that covers the alert's band replaced by a sweep of that band
alone: the node's other bands stay watched (a drone's video alert must not blind the node to its
control link). The focus entry keeps that front end's dwell and revisit (a CC2500 that reads
every channel twice to tell ELRS from Bluetooth keeps doing so) and never steps finer than its
channel filter (`filter_khz` of the info reply: an RX5808 stepped 1 MHz through its 20 MHz
filter would show a smeared, flat-topped spectrum and change the emitter's class). When the
alert clears, the node's normal plan (read with `get plan` when its port opened; [] = the
firmware's default plan) is sent back. A node already focused for another alert is left alone.
"""
from __future__ import annotations

from .config import GatewayConfig
from .events import AlertEvent, ScanFocus, ScanRestore

DEFAULT_DWELL_US = 1000  # when neither the config nor the node's normal plan gives a dwell
READ_US = 500  # a dwell's time after settling, to read (as the firmware's default plan)
SWEEP_US_MAX = 1_000_000  # the firmware refuses a sweep longer than this (docs/firmware.md)


class ScanPlanner:
    def __init__(self, cfg: GatewayConfig):
        self.cfg = cfg.alerts
        self.neighbours = {int(k): [int(n) for n in v] for k, v in cfg.neighbours.items()}
        self.normal_plan: dict[int, list] = {}
        self.focused: dict[int, str] = {}  # node id -> alert id it is focused for

    def _running(self, node_id: int, info: dict, name: str) -> dict:
        """Front end `name`'s entry in the plan the node runs (info's `plan`: the default plan's
        entries when the stored plan is []), else in its `get plan` reply; {} if neither has one."""
        for plan in (info.get("plan") or [], self.normal_plan.get(node_id, [])):
            for e in plan:
                if e.get("front_end") == name:
                    return e
        return {}

    def _base_plan(self, node_id: int, info: dict) -> list:
        """The plan a focus plan is made from: the running one (info's `plan`) if it can be sent
        back as it is (info gives a channel list by its length), else the stored one."""
        plan = info.get("plan") or []
        if any("n_channels" in e for e in plan):
            plan = self.normal_plan.get(node_id) or []
        return plan

    def _entry(self, node_id: int, info: dict, lo: int, hi: int) -> dict | None:
        for fe in info.get("front_ends", []):
            fe_lo, fe_hi = fe["band_khz"]
            if fe["kind"] == "logdet" or hi < fe_lo or lo > fe_hi:
                continue
            running = self._running(node_id, info, fe["name"])
            dwell = self.cfg.focus_dwell_us or running.get("dwell_us", DEFAULT_DWELL_US)
            # never shorter than the front end can settle in (the node refuses such a plan)
            dwell = max(dwell, fe.get("settle_us", 0) + READ_US)
            revisit = running.get("revisit", 0)
            start = max(lo, fe_lo)
            span = min(hi, fe_hi) - start
            # as fine as focus_step_khz and the filter allow, as coarse as a sweep of at most 1 s
            # needs (a revisit sweep reads each channel twice)
            channels = max(SWEEP_US_MAX // (dwell * (2 if revisit else 1)), 1)
            step = max(self.cfg.focus_step_khz, fe.get("filter_khz", 0),
                       -(-span // max(channels - 1, 1)))
            stop = start + step * (span // step)
            entry = {"front_end": fe["name"], "start_khz": start, "stop_khz": stop,
                     "step_khz": step, "dwell_us": dwell}
            if revisit:
                entry["revisit"] = revisit
            return entry
        return None

    def focus(self, alert: AlertEvent, nodes: dict, t_ns: int) -> list[ScanFocus]:
        if not self.cfg.adaptive_scan:
            return []
        seers = [n.node_id for n in alert.nodes]
        wanted = set()
        for seer in seers:
            wanted.update(self.neighbours.get(seer, nodes))
        # a node that sees the drone keeps the plan it sees it with: a focus would start its
        # detection over on a few channels (no noise reference around a wide emitter, a part of
        # a hopper's channels) and could lose the drone, clearing and re-raising the alert
        wanted.difference_update(seers)
        events = []
        for node_id in sorted(wanted):
            health = nodes.get(node_id)
            if health is None or not health.online or node_id in self.focused:
                continue
            entry = self._entry(node_id, health.info, alert.lo_khz, alert.hi_khz)
            if entry is None:
                continue
            self.focused[node_id] = alert.alert_id
            running = self._base_plan(node_id, health.info)
            plan = [entry if e.get("front_end") == entry["front_end"] else e for e in running]
            if entry not in plan:
                plan.append(entry)
            events.append(ScanFocus(t_ns, node_id, alert.alert_id, tuple(plan)))
        return events

    def restore(self, alert: AlertEvent, t_ns: int) -> list[ScanRestore]:
        events = []
        for node_id, alert_id in sorted(self.focused.items()):
            if alert_id == alert.alert_id:
                del self.focused[node_id]
                events.append(ScanRestore(t_ns, node_id, alert_id,
                                          tuple(self.normal_plan.get(node_id, []))))
        return events
