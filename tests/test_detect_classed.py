"""Result.classed: the class rows the core made of tracks in a batch (looking at confirmed
tracks for an alert) are what class_rows() gives of them until the next batch, so the gateway
observes them in the same sweep without classifying them again."""
from __future__ import annotations

from straja.gateway import config
from straja.gateway.detector import NodeDetector
from straja.gateway.pipeline import Pipeline
from straja.testing import synth

T0 = 1_700_000_000_000_000_000


def test_classed_rows_are_what_class_rows_gives_in_the_same_sweep(monkeypatch):
    checked = []
    observations = NodeDetector._observations

    def check(self, st, bursts, offset_ns, classed=None):
        if classed:
            snap = st.core.tracker.snapshot()
            ids = snap["track_id"].tolist()
            rows = sorted(ids.index(tid) for tid in classed if tid in ids)
            assert [classed[ids[i]] for i in rows] == st.core.class_rows(snap[rows])
            checked.append(len(rows))
        return observations(self, st, bursts, offset_ns, classed)

    monkeypatch.setattr(NodeDetector, "_observations", check)
    video = synth.Emitter(5_800_000, 20_000, lambda t: -85 + 2 * t if 1 < t < 7 else None)
    streams = [synth.node_chunks(n, [video], t0_ns=T0, duration_s=9,
                                 band=(5_645_000, 5_945_000, 10_000), offset_ns=n * 1_000_000)
               for n in (1, 2)]
    pipeline = Pipeline(config.GatewayConfig())
    raised = []
    for c in synth.merge(streams):
        raised += [e for e in pipeline.feed(c.source, c.t_ns, c.data).events
                   if e.kind == "alert_raised"]
    assert checked and sum(checked) >= 2 and raised
