"""The scan scheduler allocates nothing per step (tune, reading, frame, block, with a plain and
a revisit sweep; MicroPython unix port, fake front ends): gc.mem_alloc() does not grow over many steps with the collector off, and
as many more steps run with the heap locked (any allocation would raise MemoryError). A whole
streaming virtual node keeps its heap flat: between commands, and across the gateway's
focus plans."""
import json
import time

from straja.mp import run_micropython
from straja.paths import FIRMWARE, REPO

HELPERS = REPO / "tests" / "firmware_app"


def test_scheduler_steady_state_allocates_nothing():
    frames = 60
    out = run_micropython(HELPERS / "alloc_check.py", args=[str(frames)],
                          path=[FIRMWARE, HELPERS], heap="256K").stdout
    got = json.loads(out)
    assert got["grown"] == 0, got
    assert got["locked_ok"], got
    # warm-up, then `frames` frames unlocked and as many locked, every step of their sweeps
    # and blocks (tunes, readings, frames) run in between
    assert got["frames"] == 2 * frames + 6
    assert got["bytes"] > got["frames"] * 40


# A virtual node (the real firmware on the unix port and its virtual board) hearing a drone's
# Remote ID 20 times a second, as the demo's nodes do: its STATUS frames (every 200 ms) carry
# gc.mem_alloc().
RID_SCENE = {
    "scene": {"name": "heap_vnode", "seed": 5, "duration_s": 60.0},
    "node": [{"name": "n1", "board": "virtual", "position_m": [0.0, 0.0, 3.0]}],
    "emitter": [{"name": "drone", "kind": "remote_id", "uas_id": "HEAP-RID-1", "eirp_dbm": 10.0,
                 "interval_s": 0.05, "trajectory": [[0.0, 80.0, 60.0, 40.0]]}],
}


def _statuses(link, seconds):
    """(mem_alloc of each STATUS, Remote ID frames) over `seconds`."""
    from straja import protocol
    heap, rid = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            for f in link.frames(1, timeout=0.5, types=(protocol.STATUS, protocol.REMOTEID)):
                if f.type == protocol.STATUS:
                    heap.append(f.body.mem_alloc)
                else:
                    rid += 1
        except TimeoutError:
            pass
    return heap, rid


def test_a_streaming_node_keeps_its_heap_flat_through_remote_id_and_focus_plans(tmp_path):
    """Steady state allocates nothing: the Bluetooth stand-in hands each advertisement over in
    preallocated objects, as a board's stack does; serving a command (the gateway's focus plan
    refreshes, a focus that changes the plan, info) allocates, and its garbage is collected
    right after it. Before: the heap filled at 0.3-1 KiB/s in the demo (issue 20)."""
    from straja.link import NodeLink
    from straja.sim import scene_from_dict
    from straja.sim.remoteid import NodeBluetooth
    from straja.vnode.fleet import Fleet, NodeSpec, scene_rf

    scene = scene_from_dict(RID_SCENE)
    fleet = Fleet([NodeSpec("n1", 1, config={"stream_on_boot": True, "heartbeat_ms": 200})],
                  lambda name, profile: scene_rf(scene, name, profile), workdir=tmp_path,
                  bluetooth_for=lambda name: NodeBluetooth(scene, name))
    with fleet, NodeLink(fleet.nodes[0].port) as link:
        plan = link.call("info", timeout=15)["plan"]  # (its first boot compiles the firmware)
        _statuses(link, 1.0)  # warm-up: first calls may intern or cache
        heap, rid = _statuses(link, 3.0)
        assert rid >= 30 and len(heap) >= 10, (rid, heap)
        assert max(heap) - min(heap) == 0, heap
        # the gateway's focus: a narrower 2.4 GHz sweep for 10 s, refreshed; then the plan again
        focus = [dict(e) for e in plan]
        for e in focus:
            if e["front_end"] == "ism24":
                e["stop_khz"] = e["start_khz"] + (e["stop_khz"] - e["start_khz"]) // 2
        after = {}
        for k in range(12):
            running = (focus, plan)[k // 3 % 2]
            link.call("plan", json.dumps(running) + " temp=10")
            link.call("info")
            heap, rid = _statuses(link, 0.5)
            after.setdefault(k // 3 % 2, []).extend(heap)
        for which, heap in after.items():  # each plan's buffers, the same size every time
            assert max(heap) - min(heap) <= 1024, (which, heap)
