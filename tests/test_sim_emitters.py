"""The emitter models against their parameters (rf-links.md, ExpressLRS 3.x/4.x tables)."""
import numpy as np
import pytest

from straja.sim import scene_from_dict
from straja.paths import REPO
from straja.sim.emitters import (ELRS_DOMAINS, ELRS_RATES_2G4, ELRS_RATES_900, drone_family,
                                 elrs_sequence, lora_airtime_s)
from straja.sim.scene import load_scene


def one(kind, **params):
    """A scene with one emitter of `kind` 100 m from one node."""
    em = {"name": "e", "kind": kind, "position_m": [100.0, 0.0, 0.0], **params}
    return scene_from_dict({"scene": {"duration_s": 60.0, "seed": 7},
                            "node": [{"name": "n", "position_m": [0.0, 0.0, 0.0]}],
                            "emitter": [em]})


def packets(scene, t0, t1, stream=0):
    return scene.emitters[0].window(stream, t0, t1)


@pytest.mark.parametrize("n", [80, 40, 20, 13])
def test_elrs_sequence_structure(n):
    seq, sync = elrs_sequence(0x12345678, n)
    assert sync == n // 2
    assert len(seq) == (256 // n) * n
    for b in range(0, len(seq), n):
        block = seq[b:b + n]
        assert block[0] == sync                      # sync channel every N hops
        assert sorted(block) == list(range(n))       # every channel once per block
    assert seq != elrs_sequence(0x12345679, n)[0]    # the binding seed matters


def test_elrs_rng_matches_lcg():
    # ExpressLRS rng(): seed = (214013 seed + 2531011) mod 2^31, returns seed >> 16.
    from straja.sim.emitters import elrs_rng_values
    assert elrs_rng_values(0, 2) == [2531011 >> 16, ((214013 * 2531011 + 2531011) % 2**31) >> 16]


@pytest.mark.parametrize("rate", list(ELRS_RATES_2G4))
def test_elrs_2g4_rates(rate):
    interval, airtime, hop_every, bw = ELRS_RATES_2G4[rate]
    sc = one("elrs", rate=rate, domain="ISM2G4")
    pk = packets(sc, 0.0, 8.0)
    assert np.allclose(np.diff(pk.t0), interval)                  # packet rate
    assert np.allclose(pk.t1 - pk.t0, airtime)                    # airtime, silent in between
    assert np.all(pk.bw == bw)
    # channel changes exactly every hop_every packets
    changes = np.flatnonzero(np.diff(pk.chan) != 0) + 1
    first = changes[0]
    assert np.all(np.diff(changes) % hop_every == 0) and np.diff(changes).min() == hop_every
    hops = pk.chan[first::hop_every]
    em = sc.emitters[0]
    f0, f1, n = ELRS_DOMAINS["ISM2G4"]
    assert set(np.unique(pk.chan)) <= set(range(n))
    assert np.allclose(pk.f, f0 + pk.chan * (f1 - f0) / (n - 1))
    if len(hops) >= len(em.sequence):
        assert set(np.unique(pk.chan)) == set(range(n))           # all 80 channels used


def test_elrs_150hz_hop_rate_and_sync():
    sc = one("elrs", rate="150", domain="ISM2G4", uid_seed=42)
    em = sc.emitters[0]
    pk = packets(sc, 0.0, 20.0)
    assert np.allclose(np.diff(pk.t0), 6666e-6)
    hop_starts = pk.t0[np.flatnonzero(np.diff(pk.chan) != 0) + 1]
    assert np.allclose(np.diff(hop_starts), 4 * 6666e-6)           # 37.5 hops/s
    assert abs(1 / np.mean(np.diff(hop_starts)) - 37.5) < 0.01
    assert set(np.unique(pk.chan)) == set(range(80))
    n = (np.round((pk.t0 - em.phase) / em.interval)).astype(int)
    hop = n // 4
    on_sync = pk.chan == em.sync_channel
    assert np.all(on_sync[hop % 80 == 0])                          # sync channel every N hops
    assert em.sync_channel == 40 and len(em.sequence) == 240


@pytest.mark.parametrize("domain,rate", [("FCC915", "200"), ("EU868", "50"), ("AU915", "25")])
def test_elrs_900(domain, rate):
    interval, airtime, hop_every, bw = ELRS_RATES_900[rate]
    f0, f1, n = ELRS_DOMAINS[domain]
    pk = packets(one("elrs", domain=domain, rate=rate), 0.0, 30.0)
    assert np.allclose(np.diff(pk.t0), interval)
    assert set(np.unique(pk.chan)) == set(range(n))
    assert pk.f.min() >= f0 - 1 and pk.f.max() <= f1 + 1 and np.all(pk.bw == 500e3)


def test_analog_video_continuous():
    sc = one("analog_video", channel="E5", on=[[1.0, 3.5]])
    pk = packets(sc, 0.0, 5.0)
    assert np.all(pk.f == 5885e6) and np.all(pk.bw == 20e6)
    assert pk.t0[0] == pytest.approx(1.0) and pk.t1[-1] == pytest.approx(3.5)
    assert np.allclose(pk.t0[1:], pk.t1[:-1])                       # no gap while on
    assert np.sum(pk.t1 - pk.t0) == pytest.approx(2.5)


def test_ofdm_and_droneid():
    sc = one("ofdm_video", centre_mhz=5760.0, bw_mhz=40.0)
    video, did = packets(sc, 0.0, 10.0, 0), packets(sc, 0.0, 10.0, 1)
    assert np.all(video.bw == 40e6) and np.sum(video.t1 - video.t0) == pytest.approx(10.0)
    assert sc.emitters[0].streams[0].shape == "rect"
    assert np.allclose(np.diff(did.t0), 0.6) and np.allclose(did.t1 - did.t0, 0.64e-3)
    assert set(np.round(did.f / 1e6, 1)) == {2399.5, 2414.5, 2429.5, 2444.5, 2459.5}


def test_wifi_beacons_and_traffic():
    sc = one("wifi", channel=11, traffic_load=0.2)
    beacons, traffic = packets(sc, 0.0, 30.0, 0), packets(sc, 0.0, 30.0, 1)
    assert np.allclose(np.diff(beacons.t0), 0.1024)
    assert np.all(beacons.f == 2462e6) and np.all(beacons.bw == 20e6)
    assert np.all(traffic.t0[1:] >= traffic.t1[:-1])                # one radio: no overlap
    load = np.sum(traffic.t1 - traffic.t0) / 30.0
    assert 0.12 < load < 0.25


def test_bluetooth_classic():
    pk = packets(one("bt_classic", activity=1.0), 0.0, 10.0)
    assert np.allclose(np.diff(pk.t0), 625e-6)                      # 1600 hops/s
    assert len(pk.t0) == pytest.approx(16000, abs=2)
    assert set(np.unique(pk.chan)) == set(range(79))
    assert np.allclose(pk.f, 2402e6 + 1e6 * pk.chan) and np.all(pk.bw == 1e6)


def test_ble_advertising():
    interval = 0.05
    pk = packets(one("ble_adv", interval_s=interval), 0.0, 60.0)
    assert list(pk.chan[:3]) == [37, 38, 39]
    assert set(np.round(pk.f / 1e6)) == {2402, 2426, 2480} and np.all(pk.bw == 2e6)
    events = pk.t0[pk.chan == 37]
    gaps = np.diff(events)
    assert gaps.min() >= interval and gaps.max() <= interval + 0.010  # advDelay 0-10 ms
    assert np.mean(gaps) == pytest.approx(interval + 0.005, abs=0.0005)


def test_lora_device_airtime_and_duty_cycle():
    # Semtech calculator: SF7 BW125 20 bytes CR4/5 preamble 8 explicit header CRC -> 56.6 ms.
    assert lora_airtime_s(7, 125e3, 20) == pytest.approx(56.576e-3, rel=1e-3)
    # SF12 BW125 51 bytes: 2.466 s (LoRaWAN maximum at DR0)
    assert lora_airtime_s(12, 125e3, 51) == pytest.approx(2.4658, rel=1e-3)
    pk = packets(one("lora_device", preset="lorawan_eu868", mean_interval_s=1.0), 0.0, 600.0)
    airtime = pk.t1[0] - pk.t0[0]
    assert set(np.round(pk.f / 1e5)) <= {8681, 8683, 8685}
    assert np.diff(pk.t0).min() >= airtime * 100 - 1e-9               # 1 % duty cycle


def test_microwave_half_cycles():
    pk = packets(one("microwave", mains_hz=60.0), 0.0, 2.0)
    cycle = np.round((pk.t0 - pk.t0[0]) * 60.0, 6)
    starts = pk.t0[::8]
    assert np.allclose(np.diff(starts), 1 / 60)                       # once per mains cycle
    on = np.sum(pk.t1 - pk.t0) / (pk.t1[-1] - pk.t0[0])
    assert 0.4 < on < 0.5                                             # one half-cycle
    assert pk.f.min() >= 2440e6 and pk.f.max() <= 2470e6 and len(cycle)


def test_hoppers_crossfire_frsky():
    cf = packets(one("crossfire", band="915"), 0.0, 10.0)
    assert np.allclose(np.diff(cf.t0), 1 / 150) and len(np.unique(cf.chan)) == 100
    fr = packets(one("frsky"), 0.0, 10.0)
    assert np.allclose(np.diff(fr.t0), 9e-3) and len(np.unique(fr.chan)) == 47


def test_deterministic_and_seed_dependent():
    a = packets(one("ble_adv"), 10.0, 20.0)
    b = packets(one("ble_adv"), 10.0, 20.0)
    assert np.array_equal(a.t0, b.t0)
    # blocks made out of order agree with blocks made in order
    sc = one("wifi", traffic_load=0.3)
    late = packets(sc, 40.0, 41.0, 1)
    sc2 = one("wifi", traffic_load=0.3)
    packets(sc2, 0.0, 41.0, 1)
    assert np.array_equal(late.t0, packets(sc2, 40.0, 41.0, 1).t0)
    other = scene_from_dict({"scene": {"duration_s": 60.0, "seed": 8},
                             "node": [{"name": "n", "position_m": [0.0, 0.0, 0.0]}],
                             "emitter": [{"name": "e", "kind": "ble_adv", "position_m": [1, 0, 0]}]})
    assert not np.array_equal(a.t0, other.emitters[0].window(0, 10.0, 20.0).t0)


def test_blocks_from_many_threads():
    # A fleet's virtual boards read one scene from their own threads; renewal processes carry
    # state across blocks in a dict, which once changed size while another thread iterated it.
    import sys
    import threading
    sc, ref = one("ble_adv", interval_s=0.02), one("ble_adv", interval_s=0.02)
    em = sc.emitters[0]
    errors = []

    def read(order):
        try:
            for k in order:
                em.block(0, int(k))
        except Exception as e:  # noqa: BLE001 - the failure under test
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=read, args=(
            np.random.default_rng(i).permutation(4000)[:200],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors
    for k in (0, 1717, 3999):
        assert np.array_equal(em.block(0, k).t0, ref.emitters[0].block(0, k).t0)


def test_flysky_afhds2a_changes_channel_every_packet():
    pk = packets(one("flysky"), 0.0, 10.0)
    assert np.mean(np.diff(pk.t0)) == pytest.approx(3.85e-3, rel=1e-6)   # 260 packets/s
    assert np.all(np.diff(pk.f) != 0)                                     # a hop per packet
    assert len(np.unique(pk.f)) == 16 and pk.f.min() >= 2400e6 and pk.f.max() <= 2480e6
    assert np.allclose(pk.t1 - pk.t0, 1.2e-3)


@pytest.mark.parametrize("frame", [11e-3, 22e-3])
def test_dsmx_two_packets_per_frame_each_on_a_new_channel(frame):
    pk = packets(one("dsmx", frame_s=frame), 0.0, 20.0)
    assert len(pk.t0) / 20.0 == pytest.approx(2 / frame, rel=0.01)
    gaps = np.round(np.diff(pk.t0) * 1e6)
    assert set(gaps) == {4010.0, round(frame * 1e6) - 4010.0}
    assert np.all(np.diff(pk.chan) != 0) and len(np.unique(pk.chan)) == 23
    assert np.allclose(pk.f, 2400e6 + 1e6 * pk.chan) and np.all(pk.bw == 1e6)
    assert np.allclose(pk.t1 - pk.t0, 1.28e-3)


def test_elrs_telemetry_slots_come_from_the_drone():
    sc = one("elrs", rate="150", tlm_ratio=4, remote_position_m=[0.0, 30.0, 0.0],
             remote_eirp_dbm=10.0)
    em = sc.emitters[0]
    up, tlm = packets(sc, 0.0, 10.0, 0), packets(sc, 0.0, 10.0, 1)
    both = np.sort(np.concatenate([up.t0, tlm.t0]))
    assert np.allclose(np.diff(both), 6666e-6)                   # one radio speaks per slot
    assert len(tlm.t0) / len(both) == pytest.approx(1 / 4, abs=0.002)
    assert set(tlm.chan) <= set(up.chan) and em.streams[1].remote
    rf = sc.node("n")
    # the drone 30 m away at 10 dBm against the handset 100 m away at 20 dBm: +0.46 dB
    d = rf.mean_rx_dbm(0, 1.0, 2440e6, 1) - rf.mean_rx_dbm(0, 1.0, 2440e6, 0)
    assert d == pytest.approx(-10 + 20 * np.log10(100 / 30), abs=0.01)
    assert len(one("elrs").emitters[0].streams) == 1             # off by default


def test_ocusync_video_and_hopping_uplink():
    sc = one("ocusync", centre_mhz=2440.0, bw_mhz=40.0, remote_position_m=[0.0, 0.0, 0.0])
    video, up = packets(sc, 0.0, 10.0, 0), packets(sc, 0.0, 10.0, 1)
    assert np.all(video.bw == 40e6) and np.sum(video.t1 - video.t0) == pytest.approx(10.0)
    assert np.allclose(np.diff(up.t0), 14e-3) and np.all(up.bw == 1.4e6)
    assert up.f.min() >= 2403e6 and up.f.max() <= 2478e6 and len(np.unique(up.f)) > 40
    assert sc.emitters[0].streams[1].remote
    five = packets(one("ocusync", centre_mhz=5785.0), 0.0, 2.0, 1)
    assert five.f.min() >= 5725e6 and five.f.max() <= 5850e6


def test_bluetooth_multi_slot_and_afh():
    pk = packets(one("bt_classic", activity=1.0, packet_slots=5, afh_channels=20), 0.0, 10.0)
    air = np.round((pk.t1 - pk.t0) * 1e6)
    assert set(air) == {2870.0, 366.0}                             # DH5 then a 1-slot answer
    assert np.allclose(np.diff(pk.t0[::2]), 6 * 625e-6)            # 6 slots per exchange
    assert len(np.unique(pk.chan)) == 20                           # adaptive hopping's set
    busy = np.sum(pk.t1 - pk.t0) / 10.0
    assert busy == pytest.approx((2870 + 366) / 3750, rel=0.01)


def test_ble_connection_throughput_mode():
    pk = packets(one("ble_conn"), 0.0, 3.0)
    starts = pk.t0[::6]                                            # 3 exchanges per 7.5 ms event
    assert np.allclose(np.diff(starts), 7.5e-3)
    assert set(np.round((pk.t1 - pk.t0) * 1e6)) == {2088.0, 80.0}  # 251-byte PDU, empty answer
    ch = pk.chan[::6]
    hop = (ch[1] - ch[0]) % 37
    assert 5 <= hop <= 16 and np.all((np.diff(ch) % 37) == hop)   # channel selection #1
    assert len(np.unique(ch)) == 37
    duty = np.sum(pk.t1 - pk.t0) / 3.0
    assert duty == pytest.approx(3 * (2088 + 80) / 7500, rel=0.01)
    two = packets(one("ble_conn", phy="2M"), 0.0, 1.0)
    assert np.all(two.bw == 2e6) and np.max(two.t1 - two.t0) == pytest.approx(1048e-6)


def test_srd_hopper_smart_meter():
    pk = packets(one("srd_hopper", mean_interval_s=0.2), 0.0, 600.0)
    assert np.mean(np.diff(pk.t0)) == pytest.approx(0.22, rel=0.05)
    assert len(np.unique(pk.chan)) == 50
    assert np.allclose(pk.f, 902.4e6 + 500e3 * pk.chan) and np.all(pk.bw == 150e3)


@pytest.mark.parametrize("channel,bw,secondary,centre", [
    (149, 80.0, "above", 5775e6), (161, 80.0, "above", 5775e6), (157, 40.0, "above", 5795e6),
    (165, 20.0, "above", 5825e6), (6, 40.0, "below", 2427e6), (1, 40.0, "above", 2422e6)])
def test_wifi_wide_channels(channel, bw, secondary, centre):
    sc = one("wifi", channel=channel, bw_mhz=bw, secondary=secondary, traffic_load=0.3)
    beacons, traffic = packets(sc, 0.0, 2.0, 0), packets(sc, 0.0, 2.0, 1)
    assert np.all(traffic.f == centre) and np.all(traffic.bw == bw * 1e6)
    assert np.all(beacons.bw == 20e6)                              # beacons on the primary
    assert np.all(beacons.f == (2407 + 5 * channel if channel <= 14 else 5000 + 5 * channel) * 1e6)


@pytest.mark.parametrize("params,field", [
    (dict(channel=165, bw_mhz=40.0), "channel"), (dict(channel=11, bw_mhz=40.0), "secondary"),
    (dict(channel=6, bw_mhz=80.0), "bw_mhz")])
def test_wifi_wide_channel_errors(params, field):
    from straja.sim import SceneError
    with pytest.raises(SceneError, match=rf"emitter\[0\]\.{field}:"):
        one("wifi", **params)


def test_elrs_eu868_plan():
    pk = packets(one("elrs", domain="EU868", rate="200"), 0.0, 10.0)
    assert np.unique(pk.f).min() == pytest.approx(863.275e6) and pk.f.max() == pytest.approx(869.575e6)
    assert np.allclose(np.diff(np.unique(pk.f)), 525e3)            # 13 channels


def test_frsky_d16_airtime_and_bandwidth_from_its_bit_rate():
    pk = packets(one("frsky"), 0.0, 5.0)
    # 38 bytes (preamble 4, sync 4, packet 30) at 70.03 kBd; Carson bandwidth 2 (57.1 + 35.0) kHz
    assert np.allclose(pk.t1 - pk.t0, 304 / 70.03e3, rtol=1e-3)
    assert np.allclose(pk.bw, 184.3e3, rtol=1e-3)
    duty = np.sum(pk.t1 - pk.t0) / (pk.t1[-1] - pk.t0[0])
    assert duty == pytest.approx(4.341 / 9, rel=0.01)


@pytest.mark.parametrize("band,first_hz", [("915", 914.47296e6), ("868", 859.50464e6)])
def test_frsky_r9_plan_and_airtime(band, first_hz):
    pk = packets(one("frsky_r9", band=band), 0.0, 5.0)
    assert np.allclose(np.diff(pk.t0), 19.4e-3)                     # a packet every 19.4 ms
    assert np.allclose(pk.t1 - pk.t0, 61.25 * 128e-6)                # SF6 at 500 kHz: 7.84 ms
    assert np.allclose(pk.bw, 500e3) and np.all(np.diff(pk.chan) != 0)  # a new channel a packet
    channels = np.unique(pk.f)
    assert len(channels) == 27 and channels[0] == pytest.approx(first_hz)
    assert np.allclose(np.diff(channels), 499.712e3)


@pytest.mark.parametrize("channel,airtime", [(6, 1.9e-3), (149, 0.3e-3)])
def test_wifi_beacon_airtime_by_band(channel, airtime):
    beacons = packets(one("wifi", channel=channel), 0.0, 5.0, 0)
    assert np.allclose(beacons.t1 - beacons.t0, airtime)
    assert np.sum(beacons.t1 - beacons.t0) / 5.0 == pytest.approx(airtime / 0.1024, rel=0.05)


def test_an_elrs_link_at_an_flrc_rate_should_be_named_a_gfsk_family_link():
    by_scene = {name: {drone_family(em.KIND, em.p)
                       for em in load_scene(REPO / "scenes" / f"{name}.toml").emitters}
                for name in ("elrs_f500_alone", "elrs_f1000_alone", "elrs_2g4_alone")}
    assert "gfsk_fhss" in by_scene["elrs_f500_alone"] and "lora_fhss" not in by_scene["elrs_f500_alone"]
    assert "gfsk_fhss" in by_scene["elrs_f1000_alone"] and "lora_fhss" not in by_scene["elrs_f1000_alone"]
    assert "lora_fhss" in by_scene["elrs_2g4_alone"]  # LoRa rates stay LoRa
    assert drone_family("wifi", {}) is None  # not a drone


def test_a_link_is_named_by_its_modulation_whatever_its_make():
    """Each hopper's expected family agrees with the modulation it sends (what a detector can
    tell): Crossfire's 50 Hz mode is LoRa, its 150 Hz mode GFSK."""
    family = {"lora": "lora_fhss", "flrc": "gfsk_fhss", "gfsk": "gfsk_fhss"}
    for kind, params in (("crossfire", {"mode": "50"}), ("crossfire", {"mode": "150"}),
                         ("elrs", {"rate": "F500"}), ("elrs", {"rate": "150"}),
                         ("elrs", {"domain": "FCC915", "rate": "100F"}), ("frsky", {}),
                         ("flysky", {}), ("dsmx", {}), ("frsky_r9", {})):
        em = one(kind, **params).emitters[0]
        assert drone_family(kind, em.p) == family[em.modulation], (kind, params)
