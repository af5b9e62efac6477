"""Remote ID through a virtual node: the real firmware under MicroPython on a virtual board whose
Bluetooth radio hears a scene's `remote_id` broadcaster (straja.vboard.ble, the unix port's
`bluetooth` stand-in calling the firmware's IRQ handler), its REMOTEID frames read off the node's
port and given to the gateway's Remote ID tracker: the drone's UAS ID, operator, positions
against the scene's truth, and the RSSI the node measured."""
import time

import pytest

from straja import protocol
from straja.gateway.config import RemoteIdConfig
from straja.gateway.remoteid import RemoteIdTracker
from straja.link import NodeLink
from straja.sim import remoteid as sim
from straja.sim import scene_from_dict
from straja.sim.remoteid import NodeBluetooth
from straja.vnode.fleet import Fleet, NodeSpec, scene_rf

pytestmark = pytest.mark.realtime  # (the node's time stamps place the drone)

SECONDS = 8.0
PATH = [[0.0, 80.0, 60.0, 40.0], [SECONDS, 100.0, 80.0, 40.0]]  # ~110 m from the node
SCENE = {
    "scene": {"name": "rid_vnode", "seed": 3, "duration_s": SECONDS},
    "node": [{"name": "n1", "board": "virtual", "position_m": [0.0, 0.0, 3.0]}],
    "emitter": [{"name": "drone", "kind": "remote_id", "uas_id": "VNODE-RID-1", "eirp_dbm": 10.0,
                 "interval_s": 0.1, "operator_id": "ROU-OP-9",
                 "operator_position_m": [-20, 10, 1.5],
                 "trajectory": PATH}],
}


@pytest.fixture(scope="module")
def heard(tmp_path_factory):
    """(scene, the node's REMOTEID frames, the scene time of the node's time 0)."""
    scene = scene_from_dict(SCENE)
    fleet = Fleet([NodeSpec("n1", 1)], lambda name, profile: scene_rf(scene, name, profile),
                  workdir=tmp_path_factory.mktemp("rid"),
                  bluetooth_for=lambda name: NodeBluetooth(scene, name))
    with fleet:
        link = NodeLink(fleet.nodes[0].port)
        try:
            # the node's clock against the scene's: a ping's t_us, taken within its round trip
            before = time.monotonic()
            t_us = link.call("ping")["t_us"]
            offset_s = (before + time.monotonic()) / 2 - fleet.t_origin - t_us / 1e6
            link.call("start")
            frames = []
            while time.monotonic() - fleet.t_origin < SECONDS:
                try:
                    frames += link.frames(1, timeout=0.5, types=(protocol.REMOTEID,))
                except TimeoutError:
                    pass
        finally:
            link.close()
    return scene, frames, offset_s


def test_the_firmware_sends_what_its_radio_hears_and_the_gateway_tracks_the_drone(heard):
    scene, frames, offset_s = heard
    assert len(frames) >= 20, len(frames)  # 10 advertisements a second, from the node's start
    rid = RemoteIdTracker(RemoteIdConfig())
    events = []
    for f in frames:
        events += rid.heard(f.t_us * 1000, f.body.advertising(), f.node_id, f.body.rssi_dbm,
                            f.body.mac)
    assert {f.body.mac for f in frames} == {scene.emitter("drone").address.hex(":")}
    drone = next(iter(rid.drones.values()))
    assert (drone.uas_id, drone.operator_id) == ("VNODE-RID-1", "ROU-OP-9")
    assert events[0].kind == "rid_seen" and drone.reasons == ()
    # every claimed position is where the drone was when the node heard it (3.5 m/s: the
    # node's stamp is at most a poll, 20 ms, and its clock's offset late), at its altitude
    truth = scene.emitter("drone").trajectory
    assert len(drone.positions) >= 5
    for t_ns, lat, lon, alt in drone.positions:
        east, north = (float(v) for v in sim.to_local(45.0, 25.0, lat, lon))
        x, y, _ = truth.position(t_ns / 1e9 + offset_s)
        assert abs(east - x) < 1.0 and abs(north - y) < 1.0 and alt == 40.0
    # free space at ~110 m, 2.44 GHz: 81 dB below 10 dBm, with the scene's shadowing and fading
    assert all(-90 <= f.body.rssi_dbm <= -55 for f in frames)
