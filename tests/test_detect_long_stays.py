"""A sub-GHz track's repeats in runs longer than a hop's dwell (straja._tracks' n_long_stays,
its reference the oracle): a fixed LoRa device's long packet gathered with a slow hopper's hits is
not named ExpressLRS by its repeats; a link dwelling over sweeps still is (docs/detection.md,
"Hoppers seen by a scanner")."""
import numpy as np
import pytest

from straja.detect import classify, tracks
from straja.detect import reference as ref
from straja.sim.emitters import ELRS_DOMAINS, elrs_sequence

# an SX126x sweeping 64 channels 1031 kHz apart from 863 MHz in 51.2 ms (the evaluation's plan)
SWEEP_US, STEP_KHZ, FIRST_KHZ = 51_200, 1031.0, 863_000.0
SUBG = classify.Scan(STEP_KHZ, SWEEP_US, SWEEP_US)
CONFIG = tracks.TrackerConfig(channel_khz=STEP_KHZ)


def scanned(hits, seed=0):
    """BURST records of hits (sweep, scan channel) as the sweep reads them, at levels scattered
    by fading (6 dB: the repeats, not a steady level, decide)."""
    rng = np.random.default_rng(seed)
    b = np.zeros(len(hits), tracks.BURST)
    for i, (sweep, ch) in enumerate(sorted(hits)):
        start = sweep * SWEEP_US + ch * SWEEP_US // 64
        b[i]["t_start_us"], b[i]["t_end_us"] = start, start + 700
        b[i]["centre_khz"], b[i]["bandwidth_khz"] = FIRST_KHZ + ch * STEP_KHZ, 500.0
        b[i]["peak_mw"] = b[i]["mean_mw"] = b[i]["centre_mw"] = 1e-9 * 10 ** (rng.normal(0, 6) / 10)
    return b


def alarm_hopper_and_meshtastic(seed=0):
    """An 868 MHz alarm hopper's hits (15 ms packets every ~0.5 s on random channels of 863-869
    MHz, on air 3-7 % of the time: a hit every 15 sweeps, one of them during the packet) and a
    Meshtastic node's 0.4 s packet on 869.5 MHz (scan channel 6), hit in 8 sweeps running."""
    rng = np.random.default_rng(seed)
    hopper = [(sweep, int(rng.integers(0, 6))) for sweep in range(10, 180, 15)]
    return hopper + [(sweep, 6) for sweep in range(52, 60)]


def elrs_868_25hz(n_sweeps=60, seed=0):
    """ExpressLRS EU868 at 25 Hz (its hop sequence over 13 channels, 80 ms on each), read where
    it is at each sweep, on the nearest scan channel, in the three quarters of the sweeps its
    packets (30 ms of 40) are on air: a hit on the channel before one sweep later when the dwell
    spans both reads, or when the next hop shares the scan channel."""
    first, last, n = ELRS_DOMAINS["EU868"]
    scan_channel = np.rint((np.linspace(first, last, n) / 1e3 - FIRST_KHZ) / STEP_KHZ).astype(int)
    sequence, _ = elrs_sequence(seed, n)
    seen = np.random.default_rng(seed).random(n_sweeps) < 0.75
    return [(k, int(scan_channel[sequence[k * SWEEP_US // 80_000 % len(sequence)]]))
            for k in range(n_sweeps) if seen[k]]


def track(hits, seed=0):
    """The one track the compiled tracker makes of the hits, with its reference's."""
    b = scanned(hits, seed)
    tr = tracks.Tracker(CONFIG)
    tr.revisit_us = SWEEP_US
    end = int(b["t_end_us"][-1])
    tr.process(b, end)
    [t] = tr.snapshot()
    _, [r] = ref.track_events(b, end, CONFIG, revisit_us=SWEEP_US)
    assert (t["n_hops"], t["n_long_stays"]) == (r["n_hops"], r["n_long_stays"])
    return t


def test_a_long_packets_repeats_are_long_stays():
    """The packet's hits in sweeps 52-59, the hopper's in 55 between them: its repeats (53, 54,
    56-59; 55 follows the hopper's hit) are one run spanning 358 ms > 80 ms."""
    t = track(alarm_hopper_and_meshtastic())
    assert t["n_bursts"] == 20
    assert t["n_bursts"] - 1 - t["n_hops"] == 6
    assert t["n_long_stays"] == 6


def test_a_dwelling_links_repeats_are_seldom_long():
    """Within its 80 ms dwells but where two hops in a row share a scan channel."""
    t = track(elrs_868_25hz(n_sweeps=400))
    repeats = t["n_bursts"] - 1 - t["n_hops"]
    assert repeats >= 0.25 * (t["n_bursts"] - 1)
    assert 0 < t["n_long_stays"] <= 0.15 * repeats


@pytest.mark.parametrize("seed", range(4))
def test_a_hopper_beside_a_long_packet_is_not_named_elrs(seed):
    """The repeats of the track (6 of 19) read as ELRS's; off the long run (0 of 13) they do
    not, and those hits come in 0.07 of the sweeps, too few for a link."""
    f = tracks.features(track(alarm_hopper_and_meshtastic(seed), seed)[None])[0]
    family, _, why = classify.classify_one(f, SUBG)
    assert family != "lora_fhss", why
    assert "beside a slow hopper" in why
    f["long_stay_fraction"] = 0.0  # the repeats counted alike wherever they fall: ELRS
    assert classify.classify_one(f, SUBG)[0] == "lora_fhss"


@pytest.mark.parametrize("seed", range(8))
def test_a_link_dwelling_over_sweeps_is_still_named_elrs(seed):
    f = tracks.features(track(elrs_868_25hz(seed=seed), seed)[None])[0]
    family, _, why = classify.classify_one(f, SUBG)
    assert family == "lora_fhss", why
