"""The compiled sweep stages (straja._detect_sweep): the gateway's path, which assembles a sweep
from its SWEEP segments and settles a quiet one in C, gives what Pipeline.process gives on the
same sweeps (its Python path), over random streams with emitters coming and going."""
import numpy as np
import pytest

from straja._detect_sweep import (SEGMENT_DETECTED, SEGMENT_OTHER_PLAN, SEGMENT_PARTIAL,
                                  SEGMENT_QUIET, SEGMENT_REFUSED)
from straja.detect.pipeline import Pipeline, PipelineConfig
from straja.gateway.detector import PLAN_FLAGS
from straja.protocol import FLAG_PAIRS, FLAG_REVISIT, Sweep, revisit_reads

# (start_khz, step_khz, n_bins, flags, config): the video band at channel-wide steps (the
# steadiness split), the 2.4 GHz band read twice a channel without and with PAIRS (the
# bursty-cell mask, wide pieces, the band hopper), sub-GHz with the time CFAR
PLANS = [
    (5_645_000, 20_000, 16, 0, {}),
    (2_400_000, 1_000, 40, FLAG_REVISIT, {}),
    (2_400_000, 1_000, 40, FLAG_REVISIT | FLAG_PAIRS, {}),
    (902_000, 250, 24, 0, {"time_cfar": True}),
]


def stream(rng, n_bins, flags, n_sweeps):
    """Each sweep's wire bytes (REVISIT: two reads a channel) and its (t_us, duration_us):
    noise codes, and emitters a few bins wide switched on and off at random."""
    t = 1_000_000
    for _ in range(n_sweeps):
        reads = rng.integers(70, 82, (2, n_bins))
        if rng.random() < 0.4:
            lo = int(rng.integers(0, n_bins - 3))
            reads[:, lo:lo + int(rng.integers(1, 4))] += int(rng.integers(10, 60))
        reads = np.minimum(reads, 255).astype(np.uint8)
        if not flags & FLAG_REVISIT:
            body = reads[0].tobytes()
        elif flags & FLAG_PAIRS:
            body = reads[0].tobytes() + reads[1].tobytes()
        else:
            body = np.minimum(reads[0], reads[1]).tobytes() + reads[0].tobytes()
        duration = int(rng.integers(40_000, 60_000))
        yield body, t, duration
        t += duration + int(rng.integers(0, 5_000))


def segments(rng, body, n_bins, flags, start_khz, step_khz, duration):
    """The sweep as 1-3 SWEEP segments (their durations add up to the sweep's)."""
    per = 2 if flags & FLAG_REVISIT else 1
    cuts = sorted({0, n_bins, *rng.integers(1, n_bins, int(rng.integers(0, 3))).tolist()})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        if per == 2:
            n = len(body) // 2
            rssi = body[a:b] + body[n + a:n + b]
        else:
            rssi = body[a:b]
        out.append(Sweep(0, flags, 1, start_khz, step_khz, 500,
                         duration if a == 0 else 0, a, n_bins, rssi))
    return out


def same(got, want):
    """Equal arrays, bit for bit (records with NaN fields included)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def same_result(got, want):
    same(got.det, want.det)
    if want.noise_mw is None:
        assert got.noise_mw is None
    else:
        same(got.noise_mw, want.noise_mw)
    for field in ("bursts", "events", "alerts"):
        same(getattr(got, field), getattr(want, field))
    assert (got.hopper is None) == (want.hopper is None)


@pytest.mark.parametrize("plan", PLANS, ids=["video", "revisit", "pairs", "time_cfar"])
def test_assembled_sweeps_give_what_process_gives(plan):
    start_khz, step_khz, n_bins, flags, extra = plan
    rng = np.random.default_rng(n_bins + flags)
    config = PipelineConfig(revisit=bool(flags & FLAG_REVISIT), max_burst_sweeps=1, **extra)
    compiled, python = (Pipeline(n_bins, start_khz, step_khz, config) for _ in range(2))
    compiled.stages.assemble(0, start_khz, step_khz, n_bins, flags, PLAN_FLAGS)
    answers = set()
    for body, t_us, duration in stream(rng, n_bins, flags, 300):
        parts = segments(rng, body, n_bins, flags, start_khz, step_khz, duration)
        taken = [compiled.stages.segment(s, t_us) for s in parts]
        assert taken[:-1] == [SEGMENT_PARTIAL] * (len(parts) - 1)
        answers.add(taken[-1])
        held, single, second = revisit_reads(np.frombuffer(body, np.uint8), flags)
        want = python.process(np.array(held, np.uint8)[None],
                              np.array([t_us], np.int64), np.array([duration], np.int64),
                              None if not flags & FLAG_REVISIT else np.array(single)[None],
                              None if second is None else np.array(second)[None])
        if taken[-1] == SEGMENT_QUIET:
            assert not (want.bursts.size or want.events.size or want.alerts.size)
            assert want.hopper is None
            same(compiled.stages.det, want.det)
        else:
            assert taken[-1] == SEGMENT_DETECTED
            same_result(compiled.process_assembled(), want)
    # both answers were given (a plan with the time CFAR, whose detections are not counted,
    # always goes on to Python), and the state both paths leave is the same
    assert answers == ({SEGMENT_DETECTED} if extra else {SEGMENT_QUIET, SEGMENT_DETECTED})
    same(compiled._noise_now, python._noise_now)
    assert (compiled.stages.hopper is None) == (python.stages.hopper is None)
    same(compiled.tracker.snapshot(), python.tracker.snapshot())
    assert compiled.scan == python.scan
    for got, want in zip(compiled.tracks(), python.tracks()):
        same(got, want)


def test_segments_of_another_plan_or_bad_ones_are_not_taken():
    pipe = Pipeline(8, 5_645_000, 20_000, PipelineConfig())
    stages = pipe.stages
    with pytest.raises(RuntimeError, match="assemble"):
        stages.segment(Sweep(0, 0, 1, 5_645_000, 20_000, 500, 100, 0, 8, bytes(8)), 0)
    with pytest.raises(RuntimeError, match="assemble"):
        stages.of_plan(Sweep(0, 0, 1, 5_645_000, 20_000, 500, 100, 0, 8, bytes(8)))
    with pytest.raises(ValueError, match="channels"):
        stages.assemble(0, 5_645_000, 20_000, 9, 0, PLAN_FLAGS)
    with pytest.raises(ValueError, match="REVISIT"):
        stages.assemble(0, 5_645_000, 20_000, 8, FLAG_REVISIT, PLAN_FLAGS)
    stages.assemble(0, 5_645_000, 20_000, 8, 0, PLAN_FLAGS)
    other = [Sweep(1, 0, 1, 5_645_000, 20_000, 500, 100, 0, 8, bytes(8)),
             Sweep(0, 0, 1, 5_646_000, 20_000, 500, 100, 0, 8, bytes(8)),
             Sweep(0, 0, 1, 5_645_000, 10_000, 500, 100, 0, 8, bytes(8)),
             Sweep(0, FLAG_REVISIT, 1, 5_645_000, 20_000, 500, 100, 0, 8, bytes(16))]
    assert [stages.segment(s, 0) for s in other] == [SEGMENT_OTHER_PLAN] * 4
    assert not any(stages.of_plan(s) for s in other)  # (what segment() checks first)
    bad = [Sweep(0, 0, 1, 5_645_000, 20_000, 500, 100, 4, 8, bytes(5)),   # past the end
           Sweep(0, 0, 1, 5_645_000, 20_000, 500, 100, -1, 8, bytes(2))]  # before the start
    assert all(stages.of_plan(s) for s in bad)  # of the plan, refused by segment()
    assert [stages.segment(s, 0) for s in bad] == [SEGMENT_REFUSED] * 2
    assert stages.t_us[0] == 0 and not stages.det.any()  # nothing of them kept
    whole = Sweep(0, 0, 1, 5_645_000, 20_000, 500, 100, 0, 8, bytearray(b"\x50" * 8))
    assert stages.segment(whole, 7) == SEGMENT_QUIET  # (any bytes-like body)
    assert stages.t_us[0] == 7 and stages.codes.tolist() == [[0x50] * 8]


def test_a_nodes_plans_read_in_turn_skip_the_plan_lookup_and_keep_their_recency(monkeypatch):
    from straja.gateway.detector import MAX_PLANS_PER_NODE, NodeDetector, plan_key

    def sweep(front_end, start_khz, i):
        return Sweep(front_end, 0, i, start_khz, 20_000, 500, 100, 0, 8, bytes([60] * 8))

    det = NodeDetector(1, {})
    looked_up = []
    plan = NodeDetector._plan
    monkeypatch.setattr(NodeDetector, "_plan",
                        lambda self, s: looked_up.append(s.front_end) or plan(self, s))
    for i in range(10):
        for front_end, start in ((0, 5_645_000), (1, 2_400_000)):
            det.sweep(sweep(front_end, start, i), i * 1000, 0)
    assert looked_up == [0, 1]  # each front end's latest plan takes its segments in C
    assert list(det._plans) == [plan_key(sweep(0, 5_645_000, 0)), plan_key(sweep(1, 2_400_000, 0))]
    det.sweep(sweep(0, 5_645_000, 10), 10_000, 0)
    assert list(det._plans)[-1][0] == 0  # swept last: the most recent, kept longest
    # more plans than a node keeps: the least recently swept goes, from the front end's too
    for n in range(MAX_PLANS_PER_NODE):
        det.sweep(sweep(1, 900_000 + 1000 * n, 0), 20_000, 0)
    assert len(det._plans) == MAX_PLANS_PER_NODE
    assert plan_key(sweep(0, 5_645_000, 0)) not in det._plans and 0 not in det._latest
    det.sweep(sweep(0, 5_645_000, 11), 30_000, 0)
    assert looked_up[-1] == 0 and det._latest[0] is det._plans[plan_key(sweep(0, 5_645_000, 0))]


def test_a_sweeps_work_buffers_lie_in_one_block():
    """The stages' work buffers and the assembled sweep are views of one contiguous block (what
    the gateway's quiet sweep of a node touches, in a few cache lines: docs/benchmarks.md,
    "Where the cost a node goes at 256 nodes")."""
    n_bins = 40
    stages = Pipeline(n_bins, 2_400_000, 1_000, PipelineConfig(revisit=True)).stages
    stages.assemble(0, 2_400_000, 1_000, n_bins, FLAG_REVISIT | FLAG_PAIRS, PLAN_FLAGS)
    views = [stages.t_us, stages.duration_us, stages.power, stages.noise, stages.noise_now,
             stages.codes, stages.det, stages.extra, stages.single, stages.second]
    spans = sorted((v.__array_interface__["data"][0], v.nbytes) for v in views)
    assert all(a + size == b for (a, size), (b, _) in zip(spans, spans[1:]))  # end to end
    assert np.isnan(stages.noise_now).all() and not stages.second.any()
