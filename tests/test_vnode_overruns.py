"""A virtual node counts a late reading whatever makes it late (docs/firmware.md, "Timing and
overruns"): a plan whose dwells cannot hold a reading overruns on every reading of every sweep,
on the real firmware under the real MicroPython with its virtual board, on a fast machine or an
idle one as on a loaded one (issue 20: fewer overruns must never come from hiding late ones)."""
import json

from straja import protocol
from straja.link import NodeLink
from straja.vboard import NoiseOnly
from straja.vnode.fleet import Fleet, NodeSpec

CHANNELS = 11
# the CC2500's dwell no longer than its settle time (900 us): each reading is due at its slot's
# end, so it ends after it, by the reading's own time at least
NO_ROOM = {"front_end": "ism24", "start_khz": 2400000, "stop_khz": 2410000, "step_khz": 1000,
           "dwell_us": 900}


def test_a_plan_with_no_room_to_read_overruns_on_every_reading(tmp_path):
    with Fleet([NodeSpec("n1", 1)], lambda name, profile: NoiseOnly(), workdir=tmp_path) as fleet:
        link = NodeLink(fleet.nodes[0].port)
        try:
            link.call("plan", json.dumps([NO_ROOM]), timeout=15)
            link.call("start")
            sweeps = link.frames(20, timeout=20, types=(protocol.SWEEP,))
            link.call("stop")  # (its reply follows every frame sent before it)
            while True:
                try:
                    sweeps += link.frames(1, timeout=0.5, types=(protocol.SWEEP,))
                except TimeoutError:
                    break
            info = link.call("info")
        finally:
            link.close()
    assert all(f.body.total == f.body.n_channels == CHANNELS and f.body.flags & protocol.FLAG_OVERRUN for f in sweeps)
    # each reading of each sweep sent counted once (a sweep's count goes in with its frame)
    assert info["plan_overruns"] == [len(sweeps) * CHANNELS] == [info["overruns"]]
