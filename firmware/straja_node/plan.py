"""The default scan plan: what a node scans while its config's plan is empty (docs/firmware.md,
"Scan plans"). Plain code over the drivers' declared facts (band_khz, settle_us, filter_khz,
scan_revisit_us, scan_interleave): the host imports it too, so the plan
`straja eval` measures is this one. With it the rules on a plan the host shares: the keys of its
entries and a front end's name (SWEEP_KEYS, ENVELOPE_KEYS, is_name: the gateway's checks of a
node's replies) and what `info` says of the front ends and the plan running (scanning: the
evaluation's emulated node answers `info` with it)."""
from .limits import ENVELOPE_N_DEFAULT, NAME_MAX, SWEEP_US_MAX

SWEEP_CHANNELS = 64  # channels of a default sweep, at most
READ_US = 500  # dwell added to the settle time in the default plan: time to read
RATE_HZ = 10000  # envelope sample rate

# The keys a plan entry takes: an envelope entry is one with "rate_hz", any other a sweep entry
SWEEP_KEYS = ("front_end", "channels", "start_khz", "stop_khz", "step_khz", "dwell_us", "settle_us",
              "revisit", "interleave")
ENVELOPE_KEYS = ("front_end", "rate_hz", "n")


def is_envelope(fe):
    return hasattr(fe, "read_block")


def default_plan(front_ends):
    """The plan used while the config's plan is empty: every front end, across its whole band,
    at dwell = settle_us + READ_US, with as many channels (up to SWEEP_CHANNELS) as fit a sweep
    in SWEEP_US_MAX but no step finer than the front end's filter (`filter_khz`: finer channels
    would overlap), read twice if its driver asks for it,
    the second reading `scan_revisit_us` or more after the first (the CC2500's), in the
    interleaved order if it asks for that (`scan_interleave`)."""
    plan = []
    for fe in front_ends:
        if is_envelope(fe):
            plan.append({"front_end": fe.name, "rate_hz": RATE_HZ, "n": ENVELOPE_N_DEFAULT})
            continue
        lo, hi = fe.band_khz
        dwell = fe.settle_us + READ_US
        # the second reading at least `scan_revisit_us` after the first (a time: the dwells it
        # takes follow the dwell)
        revisit = -(-getattr(fe, "scan_revisit_us", 0) // dwell)
        n = max(min(SWEEP_CHANNELS, SWEEP_US_MAX // (dwell * (2 if revisit else 1))), 2)
        step = max(getattr(fe, "filter_khz", 1), (hi - lo) // (n - 1))
        n = min(n, (hi - lo) // step + 1)  # fewer if the filter is the coarser
        entry = {"front_end": fe.name, "start_khz": lo, "stop_khz": lo + step * (n - 1),
                 "step_khz": step, "dwell_us": dwell}
        if revisit:
            entry["revisit"] = revisit
        if getattr(fe, "scan_interleave", 0):
            entry["interleave"] = 1
        plan.append(entry)
    return plan


def stored_tuning(fe, entry):
    """True if the sweep `entry` on `fe` tunes from stored calibration: its driver can
    (`store_channels`: the CC2500's) and the entry asks, with a settle_us shorter than the
    driver's own (a tune that calibrates), e.g. the CC2500's FAST_SETTLE_US."""
    return hasattr(fe, "store_channels") and entry.get("settle_us", fe.settle_us) < fe.settle_us


def is_name(value):
    """A name the firmware takes (a front end's, a calibration key): 1..NAME_MAX of a-z, 0-9, _
    and -."""
    if type(value) is not str or not 0 < len(value) <= NAME_MAX:
        return False
    for c in value:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c in "_-"):
            return False
    return True


def _brief(entry):
    """A plan entry for `info`: a channel list by its length (a reply must fit one frame)."""
    if "channels" not in entry:
        return entry
    out = {k: v for k, v in entry.items() if k != "channels"}
    out["n_channels"] = len(entry["channels"])
    return out


def scanning(front_ends, plan, temp_plan_s):
    """The `info` keys of scanning: every front end in its order (a SWEEP's front_end byte is its
    index there, whether the plan uses it or not), the plan running (`plan`: the default plan's
    entries if the stored plan is []) and the seconds a temporary plan has left (0: none)."""
    return {
        "front_ends": [{"name": fe.name, "kind": fe.kind, "band_khz": list(fe.band_khz),
                        "settle_us": getattr(fe, "settle_us", 0),
                        "filter_khz": getattr(fe, "filter_khz", 0)}
                       for fe in front_ends],
        # the host takes each front end's dwell and revisit from it
        "plan": [_brief(e) for e in plan],
        "temp_plan_s": temp_plan_s,
    }
