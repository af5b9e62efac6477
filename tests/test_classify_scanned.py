"""Hoppers and bursty neighbours as a scanner sees them: the evaluation's fast path (the virtual
board's chip models, read as the firmware reads them) through the gateway pipeline, and the held
readings' bursty-cell mask on its own."""
import copy
from pathlib import Path

import numpy as np
import pytest

from straja.detect import pipeline as core
from straja.detect.classify import Scan, classify_one
from straja.detect.tracks import FEATURES
from straja.detect.noise import codes_to_mw
from straja.eval.evaluate import EVAL_DETECT
from straja.eval.readings import EVAL_PLAN
from straja.eval.run import run_session
from straja.eval.trials import FAMILIES, Trial, run_trial
from straja.gateway.events import AlertRaised
from straja.sim.scene import load_scene

FAMILY = {f.name: f for f in FAMILIES}


@pytest.mark.parametrize("name, seeds", [("elrs_2g4", range(3)), ("elrs_900", range(3)),
                                         ("crossfire", range(3))])
def test_scanned_hopper_is_alerted_in_time_and_named(name, seeds):
    fam = FAMILY[name]
    for seed in seeds:
        outcome, _, _ = run_trial(Trial(fam, 2000 + seed, 10.0), fam.target_s, EVAL_DETECT)
        assert outcome.t_alert_s <= fam.target_s, (name, seed)
        assert outcome.predicted == fam.expect, (name, seed)


def test_without_revisit_2g4_flashes_are_not_named_a_hopper():
    """A plain sweep sees ELRS and Bluetooth alike: the classifier does not guess."""
    plan = copy.deepcopy(EVAL_PLAN)
    del plan[1]["revisit"]
    fam = FAMILY["elrs_2g4"]
    outcome, _, _ = run_trial(Trial(fam, 2100, 10.0), 4.0, EVAL_DETECT, plan)
    assert outcome.predicted == "none"


def test_urban_wifi_and_bluetooth_raise_no_alert():
    path = Path(__file__).parents[1] / "scenes" / "urban_24ghz_background.toml"
    for seed, node in ((7001, "n2"), (7002, "n3")):
        session = run_session(load_scene(path, seed=seed), node, 90.0, seed=seed,
                              detect=EVAL_DETECT)
        assert not [e for e in session.events if isinstance(e, AlertRaised)], node


def _busy(single_occ, held_occ, sweeps=200, n=64, seed=1):
    """Mask of the bursty-cell kernel at the last of `sweeps` sweeps whose cells 20..35 are hot
    (single reads 10 dB over the noise) at these rates."""
    rng = np.random.default_rng(seed)
    cells = core.busy_cells(n, 1_320.0, alpha=1.4)
    quiet = 80  # code: -100 dBm
    noise = codes_to_mw(np.full((1, n), quiet, np.uint8))
    mask = np.zeros((1, n), np.uint8)
    for _ in range(sweeps):
        single = np.full((1, n), quiet, np.uint8)
        det = np.zeros((1, n), np.uint8)
        hot = rng.random(16) < single_occ
        single[0, 20:36][hot] = quiet + 20
        det[0, 20:36] = hot & (rng.random(16) < held_occ / single_occ)
        cells.process(single, codes_to_mw(single), noise, det, mask)
    return mask[0]


def test_bursty_cells_are_masked_sparse_and_continuous_are_not():
    wifi = _busy(0.3, 0.3 * 0.3)       # frames: held only when two frames are caught
    assert wifi[24:32].all() and not wifi[:8].any() and not wifi[-8:].any()
    hopper = _busy(0.02, 0.015)         # rarely on a channel, and then it stays
    assert not hopper.any()
    video = _busy(1.0, 1.0)             # always there, always held
    assert not video.any()


def test_every_held_hit_is_masked_until_occupancy_is_known():
    assert _busy(0.02, 0.015, sweeps=core.BUSY_WARM_SWEEPS - 1).all()


def test_adapter_splits_revisit_frames_and_refuses_odd_ones():
    from straja.gateway.detector import NodeDetector
    from straja.protocol import FLAG_REVISIT, Sweep

    det = NodeDetector(1, {}, info={"front_ends": [{"kind": "cc2500"}]})
    held, first = bytes(range(10, 74)), bytes(range(20, 84))
    sweep = Sweep(0, FLAG_REVISIT, 0, 2_400_000, 1_325, 1_400, 179_200, 0, 64, held + first)
    assert (sweep.n_channels, bytes(sweep.held()), bytes(sweep.single())) == (64, held, first)
    det.sweep(sweep, 0, 0)
    (key, st), = det._plans.items()
    assert key[-1] == FLAG_REVISIT and st.core.config.revisit and st.core.scan.persistent
    assert bytes(st.stages.codes[0]) == held and bytes(st.stages.single[0]) == first
    odd = Sweep(0, FLAG_REVISIT, 1, 2_400_000, 1_325, 1_400, 179_200, 0, 64, held + first[:-1])
    assert det.sweep(odd, 200_000, 0) == [] and bytes(st.stages.single[0]) == first  # untouched
    plain = Sweep(0, 0, 0, 2_400_000, 1_325, 1_400, 89_600, 0, 64, held)
    det.sweep(plain, 300_000, 0)
    assert len(det._plans) == 2  # held and plain readings never share a core (their noise differs)


def test_eu868_hop_set_is_a_hopper_and_eu868_lorawan_is_not():
    """ELRS EU868 hops over 13 channels within 4.3 MHz (narrower than the 900 MHz plans' 26):
    alerted as a control link (at 200 Hz it repeats like a GFSK link: either name is a drone
    link); LoRaWAN and Meshtastic devices of the same band raise nothing."""
    fam = FAMILY["elrs_900"]._replace(name="elrs_868", emitter={"kind": "elrs", "domain": "EU868",
                                                                "rate": "200"})
    for seed in range(3):
        outcome, _, _ = run_trial(Trial(fam, 2200 + seed, 10.0), fam.target_s, EVAL_DETECT)
        assert outcome.t_alert_s <= fam.target_s, seed
        assert outcome.predicted in ("lora_fhss", "gfsk_fhss"), seed
    path = Path(__file__).parents[1] / "scenes" / "eu868_lorawan_meshtastic_background.toml"
    session = run_session(load_scene(path, seed=7003), "n1", 120.0, seed=7003,
                          detect=EVAL_DETECT)
    assert not [e for e in session.events if isinstance(e, AlertRaised)]


def _hopper(**fields):
    """A confirmed narrow track's features, as a scanner's hits make them (tracks.FEATURES)."""
    f = np.zeros(1, FEATURES)[0]
    f["n_bursts"], f["n_channels"], f["bandwidth_khz"], f["level_sd_db"] = 8, 7, 1031.0, 3.0
    f["trimmed_spread_khz"] = np.nan  # (not known: the rule that reads it is not weighed)
    f["clock_z"] = 21.0  # hits clocked as a link's packets (the clock's own test: test_detect_tracks)
    for name, value in fields.items():
        f[name] = value
    return f


SUBG = Scan(step_khz=1031.0, period_us=51_000.0, sweep_us=51_000.0)


@pytest.mark.parametrize("per_sweep, excess_db, hop_fraction, expect, sd_db", [
    (0.18, 11.0, 1.0, "gfsk_fhss", 3.0),  # Crossfire, +10 dB: rarely hit though well seen
    (0.18, 3.0, 1.0, "unknown", 3.0),     # as rare near the floor: missed packets, not yet telling
    (0.18, 11.0, 0.2, "unknown", 3.0),    # hit sweep after sweep on its channels: long packets
    (0.7, 9.0, 0.7, "lora_fhss", 3.0),    # ELRS 900: a wide hop on air most of the time
    (0.18, 11.0, 1.0, "unknown", 18.6),   # levels 18.6 dB apart: a track of meters and LoRaWAN
])
def test_subghz_hop_set_rarely_hit_well_over_the_floor_is_gfsk(per_sweep, excess_db,
                                                               hop_fraction, expect, sd_db):
    f = _hopper(centre_khz=915_000.0, spread_khz=22_000.0, interval_us=SUBG.period_us / per_sweep,
                excess_db=excess_db, hop_fraction=hop_fraction, level_sd_db=sd_db)
    assert classify_one(f, SUBG)[0] == expect


@pytest.mark.parametrize("per_sweep, sd_db, expect", [
    (0.6, 6.5, "lora_fhss"),   # Crossfire 50 Hz: LoRa 12 ms of 20, faded past WIDE_HOP_MAX_SD_DB
    (2.0, 6.5, "gfsk_fhss"),   # hit twice a sweep: a resident and a link, the repeats decide
    (0.6, 18.6, "gfsk_fhss"),  # levels 18.6 dB apart: several emitters, the repeats decide
])
def test_subghz_hop_set_hopping_every_packet_but_on_air_most_of_the_time_is_lora(per_sweep, sd_db,
                                                                                  expect):
    """A link hopping every packet (its repeats say so: 0.05 of its hits) but hit in most sweeps
    at one link's level is on air most of the time: LoRa (Crossfire 50 Hz), not GFSK (before:
    GFSK by the repeats whenever its fading scattered its level over WIDE_HOP_MAX_SD_DB)."""
    f = _hopper(centre_khz=866_500.0, spread_khz=6_000.0, interval_us=SUBG.period_us / per_sweep,
                excess_db=20.0, hop_fraction=0.95, level_sd_db=sd_db, n_bursts=40)
    assert classify_one(f, SUBG)[0] == expect


@pytest.mark.parametrize("seed", [1008, 1009])
def test_crossfire_50hz_hopping_every_packet_is_named_lora(seed):
    """+10 dB trials of Crossfire 915 at 50 Hz (LoRa 500 kHz, 12 ms of each 20 ms, a new channel
    every packet): named GFSK by their repeats before (7 of seeds 1000-1019), LoRa by their
    airtime now."""
    fam = FAMILY["crossfire"]._replace(name="crossfire50", emitter={"kind": "crossfire",
                                                                    "band": "915", "mode": "50"})
    outcome, _, _ = run_trial(Trial(fam, seed, 10.0), fam.target_s, EVAL_DETECT)
    assert outcome.t_alert_s <= fam.target_s
    assert outcome.predicted == "lora_fhss"


def test_2g4_held_hits_within_one_channel_are_not_a_band_hopper():
    """An access point's held frames cut into narrow pieces stay within its channel however many
    come, and are wider than a hop; three held hits over 40 MHz are ELRS's as soon as they come
    (alerted within 2 s)."""
    scan = Scan(step_khz=1325.0, period_us=180_000.0, sweep_us=180_000.0, persistent=True)
    wifi = _hopper(centre_khz=2_445_000.0, spread_khz=27_000.0, n_bursts=122, n_channels=28,
                   hop_fraction=0.93)
    assert classify_one(wifi, scan)[0] == "unknown"
    pieces = _hopper(centre_khz=2_422_000.0, spread_khz=37_000.0, n_bursts=4, n_channels=4,
                     hop_fraction=1.0, bandwidth_khz=4_970.0)
    assert classify_one(pieces, scan)[0] == "unknown"
    elrs = _hopper(centre_khz=2_440_000.0, spread_khz=41_000.0, n_bursts=3, n_channels=3,
                   hop_fraction=1.0)
    assert classify_one(elrs, scan)[0] == "lora_fhss"
    # a 40 MHz (HT40) channel's held pieces, each a hop wide, within its 40 MHz: as the band
    # hopper's hits, a hop set must spread over more (flysky_on_mixed_24ghz: 4 held hits over
    # 26.5 and 36 MHz named ELRS)
    for spread in (26_500.0, 36_000.0, 39_900.0):
        ht40 = _hopper(centre_khz=2_437_000.0, spread_khz=spread, n_bursts=4, n_channels=4,
                       hop_fraction=1.0, bandwidth_khz=1325.0)
        assert classify_one(ht40, scan)[0] == "unknown", spread


def test_2g4_held_hits_at_several_levels_are_not_one_link():
    """dji20_2447_busy_east without its video (a BLE connection in throughput mode 20 m from
    n1, a 40 MHz access point at load 0.9, a Bluetooth speaker): n1's track of 5 held hits on 4
    channels over 54 MHz, 4 of them within 4 MHz, level scatter 10.2 dB, was named ELRS at
    19.4 s. One link's held hits scatter by its fading (elrs_2g4_alone: 4.5-5.8 dB); the same
    track at one link's scatter is ELRS."""
    scan = Scan(step_khz=1325.0, period_us=180_000.0, sweep_us=180_000.0, persistent=True)
    track = dict(centre_khz=2_432_462.5, spread_khz=54_325.0, trimmed_spread_khz=3_975.0,
                 n_bursts=5, n_channels=4, hop_fraction=1.0, bandwidth_khz=1325.0)
    assert classify_one(_hopper(level_sd_db=10.2, **track), scan)[0] == "unknown"
    assert classify_one(_hopper(level_sd_db=5.8, **track), scan)[0] == "lora_fhss"


def test_a_mixed_sites_held_hits_are_not_named_elrs():
    """flysky_on_mixed_24ghz (an access point on channel 6, a BLE phone in throughput mode, a
    Bluetooth headset; its FlySky +3-5 dB over the floor, never reported): 4 held hits of the
    residents within 26.5 and 36 MHz, 1-8 s apart, were named ELRS at 15.6 s and 44.1 s."""
    from straja.eval.scenes import run_scene

    scene = load_scene(Path(__file__).parents[1] / "scenes" / "flysky_on_mixed_24ghz.toml")
    assert not [a for a in run_scene(scene, t_end_s=50.0).alerts if isinstance(a, AlertRaised)]


@pytest.mark.parametrize("seed", [2095800244, 1036892246])
def test_crossfire_whose_hop_table_aliases_with_the_sweep_is_named_in_time(seed):
    """+10 dB Crossfire trials (quick evaluation, seed 1) whose 100-hop table cycles in 13 sweeps,
    bringing hits back to the channels of earlier ones: 2095800244's repeats stayed undecided
    (5 of 31 hits on the channel of the hit before), never alerted within 10 s before its hit rate
    and level named it; 1036892246's returns 13 sweeps later (5 of 13) were counted as stays and
    named it LoRa at 6.35 s, before the tracker counted only a stay one sweep later."""
    fam = FAMILY["crossfire"]
    outcome, _, _ = run_trial(Trial(fam, seed, 10.0), fam.target_s, EVAL_DETECT)
    assert outcome.t_alert_s <= fam.target_s
    assert outcome.predicted == "gfsk_fhss"


def test_held_pieces_inside_a_speckled_frame_are_cleared_a_lone_hop_is_not():
    held = np.zeros((1, 40), bool)
    held[0, [5, 20, 33]] = True                        # three one-cell held pieces
    read = np.zeros((1, 40), bool)
    read[0, [20, 23, 25, 27]] = True                   # a frame lit in scattered cells round 20
    read[0, [4, 6, 33]] = True                         # 5: only its own neighbours hot
    second = np.zeros((1, 40), bool)
    second[0, [28, 30, 36, 38]] = True                 # 33: its second read lit around it
    pieces = core.speckled_frame_pieces(held, [read], 4, 8)
    assert np.flatnonzero(pieces[0]).tolist() == [20]
    pieces = core.speckled_frame_pieces(held, [read, second], 4, 8)
    assert np.flatnonzero(pieces[0]).tolist() == [20, 33]
    wide = np.zeros((1, 40), bool)
    wide[0, 10:16] = True                              # wider than a hop: not a piece
    assert not core.speckled_frame_pieces(wide, [read | wide], 4, 8).any()


def test_a_busy_sites_held_frame_pieces_raise_no_alert_at_switch_on():
    """busy_24ghz_background (40 MHz access points at loads up to 0.9, Bluetooth, BLE): held
    pieces of the access points' frames at their channels' edges were named ELRS at 7.35 s."""
    from straja.eval.scenes import run_scene

    scene = load_scene(Path(__file__).parents[1] / "scenes" / "busy_24ghz_background.toml")
    assert not [a for a in run_scene(scene, t_end_s=20.0).alerts if isinstance(a, AlertRaised)]
