"""Which fused track an observation joins (gateway/fusion.py): the live track of its link it
shares most of its extent with, widening none when it overlaps several. A node's run merging two
cameras' channels overlaps both tracks; joined to the first and widening it over the other's
channel, the other's observations then all joined it and the other's track ended
(analog_camera_fixed_background: the yard camera alerted twice in one presence)."""
from straja.gateway.config import FusionConfig
from straja.gateway.detector import Observation
from straja.gateway.fusion import Fusion

S = 1_000_000_000
VIDEO = "analog_fm_video"
F4, A1 = (5_775_000, 5_815_000), (5_845_000, 5_885_000)  # two cameras' runs, 20 MHz bins
MERGED = (5_815_000, 5_895_000)  # a node's run of A1 with F4's skirt, as n2's in that scene


def test_a_run_merging_two_channels_joins_the_one_it_shares_most_with_and_both_stay():
    cfg = FusionConfig()
    fusion = Fusion(cfg)
    wide_f4 = (5_775_000, 5_835_000)  # F4 read 60 MHz wide at another node: meets the merged run
    tracks = {}
    for k in range(100):  # 40 s of sweeps, several times the hold
        t = round((1.0 + 0.41 * k) * S)
        fusion.expire(t)
        for node, (lo, hi), name in ((1, F4, "F4"), (1, A1, "A1"), (2, wide_f4, "F4"),
                                     (2, MERGED, "A1")):
            track, _ = fusion.observe(Observation(node, VIDEO, t, lo, hi, -70.0))
            tracks.setdefault(name, set()).add(track.track_id)
    assert len(tracks["F4"]) == len(tracks["A1"]) == 1
    assert tracks["F4"] != tracks["A1"]
    assert len(fusion.tracks) == 2
    f4, a1 = sorted(fusion.tracks, key=lambda t: t.lo_khz)
    assert (f4.lo_khz, f4.hi_khz) == (5_775_000, 5_835_000)  # F4's own reads only
    assert (a1.lo_khz, a1.hi_khz) == A1  # the merged run widened neither


def test_two_carriers_read_as_one_stretch_widen_neither_track():
    """two_analog_r1_r2: R1 and R2 close to the nodes, read as one lit stretch for a while; the
    stretch joins one track, and R2's own reads after it still join R2's, not R1's widened."""
    fusion = Fusion(FusionConfig())
    r1, r2 = (5_645_000, 5_675_000), (5_675_000, 5_715_000)
    first = fusion.observe(Observation(1, VIDEO, S, *r1, -70.0))[0]
    second = fusion.observe(Observation(1, VIDEO, S, *r2, -70.0))[0]
    fusion.observe(Observation(2, VIDEO, 2 * S, 5_625_000, 5_735_000, -65.0))
    assert (first.lo_khz, first.hi_khz, second.lo_khz, second.hi_khz) == (*r1, *r2)
    assert fusion.observe(Observation(3, VIDEO, 3 * S, *r2, -70.0))[0] is second


def test_an_observation_overlapping_one_track_joins_it_as_before():
    fusion = Fusion(FusionConfig())
    first, new = fusion.observe(Observation(1, VIDEO, S, *F4, -70.0))
    again, new_again = fusion.observe(Observation(2, VIDEO, 2 * S, 5_765_000, 5_805_000, -75.0))
    assert new and not new_again and again is first
    assert (first.lo_khz, first.hi_khz) == (5_765_000, 5_815_000)


def test_two_runs_of_one_node_in_one_sweep_side_by_side_are_two_tracks():
    """ofdm_5865_and_analog_r8_together: each node's core reads 20 MHz OFDM at 5865 MHz as
    5845-5885 and R8 (5917 MHz) as 5875-5935 in the same sweep, their skirts sharing a bin. Two
    runs of one sweep, each centred outside the other, are two emitters: two tracks (one alert
    stood for both before, and named the OFDM analog); a later sweep's runs join their own."""
    fusion = Fusion(FusionConfig())
    ofdm, r8 = (5_845_000, 5_885_000), (5_875_000, 5_935_000)
    tracks = {"ofdm": set(), "r8": set()}
    for k in range(20):
        t = round((9.0 + 0.41 * k) * S)
        for node in (1, 2, 3):
            tracks["r8"].add(fusion.observe(Observation(node, VIDEO, t, *r8, -75.0))[0].track_id)
            tracks["ofdm"].add(fusion.observe(Observation(node, VIDEO, t + 10_000_000, *ofdm,
                                                          -76.0))[0].track_id)
    assert len(tracks["ofdm"]) == len(tracks["r8"]) == 1 and tracks["ofdm"] != tracks["r8"]
    assert sorted((t.lo_khz, t.hi_khz) for t in fusion.tracks) == [ofdm, r8]


def test_a_channel_split_in_two_runs_in_one_sweep_still_joins_its_track():
    """A drone on a fixed camera's channel (F4) read by a node as two runs of one sweep,
    5775-5795 and 5795-5815 (test_gateway_known.py's drone): each is centred on the track's
    channel, so both join it (the two runs compared alone, each centred outside the other, made
    tracks of their own: two more alerts for one drone)."""
    fusion = Fusion(FusionConfig())
    first = fusion.observe(Observation(1, VIDEO, S, 5_775_000, 5_835_000, -70.0))[0]
    for k, (lo, hi) in enumerate(((5_775_000, 5_795_000), (5_795_000, 5_815_000))):
        assert fusion.observe(Observation(1, VIDEO, 2 * S + k, lo, hi, -70.0))[0] is first
    assert len(fusion.tracks) == 1


def test_one_carrier_named_on_two_adjacent_scan_channels_by_two_nodes_is_one_track():
    """det71_analog_f4_switch_on_near_aps: F4 (5800 MHz) lies between the 5785 and 5805 MHz scan
    channels; one node names it 5795-5815 (its main lobe, inside an access point's channel), a
    nearer one later 5775-5795 alone (its skirt, 10 dB under, where the access point is not).
    One channel each, meeting at an edge: one carrier through the 20 MHz filter, one track (two
    tracks, two alerts, before), widened over both channels."""
    fusion = Fusion(FusionConfig())
    first = fusion.observe(Observation(3, VIDEO, 27 * S, 5_795_000, 5_815_000, -81.0))[0]
    for k in range(5):
        t = round((27.4 + 0.41 * k) * S)
        assert fusion.observe(Observation(4, VIDEO, t, 5_775_000, 5_795_000, -75.0))[0] is first
        assert fusion.observe(Observation(3, VIDEO, t + 5_000_000, 5_795_000, 5_815_000,
                                          -80.0))[0] is first
    assert len(fusion.tracks) == 1 and (first.lo_khz, first.hi_khz) == (5_775_000, 5_815_000)


def test_channels_apart_side_by_side_or_beside_a_wider_run_stay_two_tracks():
    """One carrier lights at most the two scan channels around it: extents 20 MHz apart (F3 at
    5780 MHz read 5775-5795, a 20 MHz OFDM at 5825 read 5815-5835), two adjacent channels one
    node read as two runs in one sweep (det43), and a one-channel run beside a two-channel one
    (R1 read 5655-5675, R2 at 5695 MHz read 5675-5715) are two emitters: two tracks."""
    pairs = [((1, 5_775_000, 5_795_000), (2, 5_815_000, 5_835_000)),
             ((1, 5_795_000, 5_815_000), (1, 5_775_000, 5_795_000)),
             ((1, 5_655_000, 5_675_000), (2, 5_675_000, 5_715_000))]
    for first, second in pairs:
        fusion = Fusion(FusionConfig())
        for k in range(5):
            t = round((10 + 0.41 * k) * S)
            fusion.observe(Observation(first[0], VIDEO, t, *first[1:], -70.0))
            fusion.observe(Observation(second[0], VIDEO, t + 5_000_000, *second[1:], -72.0))
        assert sorted((t.lo_khz, t.hi_khz) for t in fusion.tracks) == sorted(
            [first[1:], second[1:]]), (first, second)
