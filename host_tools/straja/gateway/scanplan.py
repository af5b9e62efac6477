"""Adaptive scanning: when an alert is raised, neighbouring nodes dwell on the suspect band (the
nodes that see it keep their plan).

A focus plan is the plan the node runs (its `info` reply's `plan`; else its `get plan` reply)
with the entry of the front end that covers the alert's band replaced by a sweep of that band
alone: the node's other bands stay watched (a drone's video alert must not blind the node to its
control link), and at least the detector's CFAR window of channels (else the focused node sees
nothing there; a node whose plan sweeps no more channels than that is not focused). The sweep
reaches the alert's own width beyond its band on each side: a focus restarts the node's noise
floor, which is capped at the sweep's median over its channels so that an emitter on air from
the start is not learnt as noise (detect/noise.py), and a wide emitter over half the sweep's
channels would be learnt all the same: a CC2500 focused on 2430-2451 MHz at 1 MHz steps for a
+30 dB, 20 MHz OFDM video there saw it as bursty pieces named Wi-Fi for 20 s, and the alert,
seen by one node meanwhile, cleared and was raised again. The focus entry keeps that front
end's dwell, revisit and interleave (a CC2500 that reads every channel twice to tell ELRS from
Bluetooth keeps doing so) and never steps finer than its
channel filter (`filter_khz` of the info reply: an RX5808 stepped 1 MHz through its 20 MHz
filter would show a smeared, flat-topped spectrum and change the emitter's class). A node
already focused for another alert is left alone.

A hopping control link's focus is its whole hop plan (`rf.HOP_PLANS_MHZ`: a link hops over
its regulatory band, EU 863-870 MHz, FCC 902-928 MHz or the 2.4 GHz ISM band), sent only where
that sweeps HOPPER_FOCUS_GAIN times fewer channels than the node runs. A scanner meets a hopper
when the channel it reads is the one the hopper is on: at r reads a second over N channels, a
hop set spread over all of them is met r / N times a second, and a focus on a part q of them
(the extent the link was seen on when alerted: a few hits) reads those qN channels r times a
second, where the link is a share q of the time: r / N again. So a focus gains only where the
hop plan is narrower than the node's sweep (ExpressLRS EU868's 863-870 MHz in a sub-GHz front
end's 863-928 MHz), and it restarts the node's detection (its noise floor and band statistics
learnt again: seconds without the link). A 2.4 GHz hopper is never focused on
(`fpv_approach_3km`: the neighbours focused on 2400-2465 MHz, the ELRS handset's first extent,
lost it for 13 s: its alert cleared and was raised again, twice).

A focus plan is a temporary plan (`plan PLAN temp=S`, docs/firmware.md): never written to the
node's flash, sent again every `focus_refresh_s` while the alert lasts, and dropped by the node
itself S seconds after the last refresh, so a gateway that dies during an alert leaves no node
narrowed. When the alert clears, or the gateway stops cleanly, the node's normal plan is sent
back (which ends the temporary plan at once). The normal plan is the node's stored plan (`get
plan`; [] = the firmware's default plan), never one reported while a temporary plan runs; the
store keeps it (`node_plan` events), and a gateway that starts after one that did not stop cleanly
puts it back on a node that reports a temporary plan or another stored plan.
"""
from __future__ import annotations

import math

from straja_node.limits import SWEEP_US_MAX  # the firmware refuses a longer sweep
from straja_node.plan import READ_US  # a dwell's time after settling, to read

from ..frontends import FRONT_ENDS
from ..rf import hop_plan_khz
from .config import GatewayConfig
from .detector import core_config
from .events import AlertEvent, NodeCommand, NodePlan, ScanFocus, ScanRestore
from .fusion import LINK
from .replies import plan_args

# A focus plan's temp= is this many refresh periods: one or two lost refreshes do not end it
FOCUS_TEMP_PERIODS = 3

DEFAULT_DWELL_US = 1000  # when neither the config nor the node's normal plan gives a dwell
# a hopping control link's focus must sweep this many times fewer channels (module docstring)
HOPPER_FOCUS_GAIN = 2


def _gains_too_little(running: dict, step: int, channels: int, hopper: bool) -> bool:
    """Whether a focus sweep of `channels` at `step` would gain too little over the running plan
    entry (a sweep of its channels at its step) to pay for restarting the node's detection:
    neither a finer step nor a shorter sweep; for a hopping control link, a sweep not
    HOPPER_FOCUS_GAIN times shorter (module docstring)."""
    if not {"start_khz", "stop_khz", "step_khz"} <= set(running) or running["step_khz"] <= 0:
        return False  # a channel list, or no entry known: a focus is the only sweep it knows
    now = (running["stop_khz"] - running["start_khz"]) // running["step_khz"] + 1
    if hopper:
        return channels * HOPPER_FOCUS_GAIN > now
    return step >= running["step_khz"] and channels >= now


class ScanPlanner:
    def __init__(self, cfg: GatewayConfig, normal_plans: dict[int, list] | None = None,
                 after_crash: bool = False):
        self.cfg = cfg.alerts
        self.neighbours = {int(k): [int(n) for n in v] for k, v in cfg.neighbours.items()}
        self.normal_plan: dict[int, list] = dict(normal_plans or {})
        self.focused: dict[int, str] = {}  # node id -> alert id it is focused for
        core = core_config(cfg.detect)
        self.min_channels = 2 * (core.n_train + core.n_guard) + 1
        self.focus_plan: dict[int, tuple] = {}
        self.refresh_ns = int(self.cfg.focus_refresh_s * 1e9)
        self.temp_s = math.ceil(FOCUS_TEMP_PERIODS * self.cfg.focus_refresh_s)
        # when the focus plans are next sent again (refresh); None while no node is focused
        # and refresh has seen so (then refresh changes nothing: the pipeline does not call it)
        self.next_refresh_ns: int | None = None
        # nodes whose stored plan may still be a focus plan a crashed gateway left (firmware
        # before temporary plans) until their first `get plan` reply
        self._unchecked = set(self.normal_plan) if after_crash else set()

    def focus_command(self, port: str, node_id: int) -> NodeCommand:
        return NodeCommand(port, "plan", plan_args(self.focus_plan[node_id], self.temp_s))

    def refresh(self, now_ns: int) -> list[int]:
        """Nodes whose focus plan is due to be sent again (every focus_refresh_s)."""
        if not self.focused:
            self.next_refresh_ns = None
            return []
        if self.next_refresh_ns is None:
            self.next_refresh_ns = now_ns + self.refresh_ns
        if now_ns < self.next_refresh_ns:
            return []
        self.next_refresh_ns = now_ns + self.refresh_ns
        return sorted(self.focused)

    def plan_reported(self, node_id: int, plan: list, temp_s: int,
                      t_ns: int) -> list[NodePlan | ScanRestore]:
        """A `get plan` reply: the node's stored plan, and the seconds its temporary plan has
        left. Gives the events of what it means: a new normal plan, or a restore."""
        if node_id in self.focused:
            return []  # focused by this gateway: it restores the normal plan itself
        normal = self.normal_plan.get(node_id)
        left_by_a_crash = node_id in self._unchecked and plan != normal
        self._unchecked.discard(node_id)
        if temp_s > 0 or left_by_a_crash:
            # a focus left by an earlier gateway: back to the normal plan (the stored one if
            # this gateway has none), which also ends a temporary plan at once
            restore = normal if normal is not None else plan
            return [ScanRestore(t_ns, node_id, "", tuple(restore))]
        if plan == normal:
            return []
        self.normal_plan[node_id] = plan
        return [NodePlan(t_ns, node_id, tuple(plan))]

    def _running(self, node_id: int, info: dict, name: str) -> dict:
        """Front end `name`'s entry in the plan the node runs (info's `plan`: the default plan's
        entries when the stored plan is []), else in its `get plan` reply; {} if neither has one."""
        for plan in (info.get("plan") or [], self.normal_plan.get(node_id, [])):
            for e in plan:
                if e.get("front_end") == name:
                    return e
        return {}

    def base_plan(self, node_id: int, info: dict) -> list:
        """The plan a focus plan is made from: the running one (info's `plan`) if it can be sent
        back as it is (info gives a channel list by its length), else the stored one."""
        plan = info.get("plan") or []
        if info.get("temp_plan_s") or any("n_channels" in e for e in plan):
            plan = self.normal_plan.get(node_id) or []
        return plan

    def _entry(self, node_id: int, info: dict, lo: int, hi: int,
               hopper: bool = False) -> dict | None:
        for fe in info.get("front_ends", []):
            fe_lo, fe_hi = fe["band_khz"]
            known = FRONT_ENDS.get(fe["kind"])
            if (known is not None and known.envelope) or hi < fe_lo or lo > fe_hi:
                continue
            running = self._running(node_id, info, fe["name"])
            dwell = self.cfg.focus_dwell_us or running.get("dwell_us", DEFAULT_DWELL_US)
            # never shorter than the front end can settle in (the node refuses such a plan)
            dwell = max(dwell, fe.get("settle_us", 0) + READ_US)
            revisit = running.get("revisit", 0)
            # the alert's band and, but for a hop plan, its width again on each side (module
            # docstring: the restarted floor is capped at the sweep's median), within the front
            # end's band
            margin = 0 if hopper else min(hi, fe_hi) - max(lo, fe_lo)
            start = max(lo - margin, fe_lo)
            span = min(hi + margin, fe_hi) - start
            # as fine as focus_step_khz and the filter allow, as coarse as a sweep of at most 1 s
            # needs (a revisit sweep reads each channel twice)
            channels = max(SWEEP_US_MAX // (dwell * (2 if revisit else 1)), 1)
            step = max(self.cfg.focus_step_khz, fe.get("filter_khz", 0),
                       -(-span // max(channels - 1, 1)))
            # never fewer channels than the detector's CFAR window, centred on the alert's band
            # and within the front end's: a narrower sweep has no noise reference, so the node
            # would see nothing of the drone, and the alert would clear when the nodes that
            # see it lose it, and be raised again when the plan reverts
            wanted = min(self.min_channels, channels, (fe_hi - fe_lo) // step + 1)
            if span // step + 1 < wanted:
                span = (wanted - 1) * step
                start = min(max((lo + hi - span) // 2, fe_lo), fe_hi - span)
            stop = start + step * (span // step)
            if stop == start or _gains_too_little(running, step, (stop - start) // step + 1,
                                                   hopper):
                return None
            entry = {"front_end": fe["name"], "start_khz": start, "stop_khz": stop,
                     "step_khz": step, "dwell_us": dwell}
            if revisit:
                entry["revisit"] = revisit
            if running.get("interleave", 0):
                entry["interleave"] = 1  # a hopper on a constant step stays out of step with it
            return entry
        return None

    def focus(self, alert: AlertEvent, nodes: dict, t_ns: int, busy=()) -> list[ScanFocus]:
        """Focus plans for the neighbours of the nodes that see `alert`, but those in `busy`
        (reading a video profile: its end sends them their normal plan)."""
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
            if health is None or not health.online or node_id in self.focused or node_id in busy:
                continue
            hopper = LINK.get(alert.family) == "control link"
            lo, hi = hop_plan_khz(alert.lo_khz, alert.hi_khz) if hopper else (alert.lo_khz,
                                                                              alert.hi_khz)
            entry = self._entry(node_id, health.info, lo, hi, hopper)
            if entry is None:
                continue
            self.focused[node_id] = alert.alert_id
            running = self.base_plan(node_id, health.info)
            plan = [entry if e.get("front_end") == entry["front_end"] else e for e in running]
            if entry not in plan:
                plan.append(entry)
            self.focus_plan[node_id] = tuple(plan)
            events.append(ScanFocus(t_ns, node_id, alert.alert_id, tuple(plan)))
        return events

    def restore(self, alert_id: str | None, t_ns: int) -> list[ScanRestore]:
        """The normal plans of the nodes focused for alert_id (None: every focused node). A node
        whose normal plan is unknown gets nothing: its temporary plan lapses by itself."""
        events = []
        for node_id, focused_for in sorted(self.focused.items()):
            if alert_id is None or focused_for == alert_id:
                del self.focused[node_id]
                del self.focus_plan[node_id]
                if node_id in self.normal_plan:
                    events.append(ScanRestore(t_ns, node_id, focused_for,
                                              tuple(self.normal_plan[node_id])))
        return events
