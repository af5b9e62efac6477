"""A wide emitter's skirt (detect.pipeline SKIRT_*): the out-of-channel emission of a 2.4 GHz
OcuSync, read as held narrow cells by the node it passes, is not a control link; the drone's own
ELRS beside that video, at its own level, still is (the gateway pipeline, all nodes, from
switch-on: eval.scenes.run_scene)."""
from pathlib import Path

from straja.eval.scenes import run_scene
from straja.gateway.events import AlertRaised
from straja.sim.scene import load_scene

SCENES = Path(__file__).parents[1] / "scenes"
CONTROL = ("lora_fhss", "gfsk_fhss")


def _raised(scene, t_end_s):
    return [a for a in run_scene(scene, t_end_s=t_end_s).alerts if isinstance(a, AlertRaised)]


def test_an_ocusync_skirt_on_the_node_it_passes_is_not_a_control_link():
    # its skirt was named ELRS at 62.7 s on n1 (the drone ~220 m from it), before the rule
    raised = _raised(load_scene(SCENES / "ocusync_24_alone.toml"), 75.0)
    assert [a.family for a in raised] == ["ofdm_video"]


def test_the_drones_own_elrs_beside_its_video_is_alerted_at_the_node_it_passes(tmp_path):
    path = tmp_path / "ocusync_24_with_elrs.toml"
    trajectory = ("[[0.0, 1500.0, 900.0, 80.0], [45.0, 250.0, 200.0, 60.0], "
                  "[50.0, 150.0, 150.0, 50.0], [80.0, 150.0, 150.0, 50.0]]")
    path.write_text(f"""
[scene]
name = "ocusync_24_with_elrs"
description = "a 2.4 GHz OcuSync drone with its ELRS 2.4 on board, switched on beside n1"
seed = 41
duration_s = 62.0
include = ["{SCENES / 'quiet_rural.toml'}"]

[[emitter]]
name = "video"
kind = "ocusync"
centre_mhz = 2440.0
bw_mhz = 10.0
eirp_dbm = 26.0
trajectory = {trajectory}
remote_position_m = [1200.0, 500.0, 1.5]
remote_eirp_dbm = 23.0
on = [[5.0, 62.0]]

[[emitter]]
name = "control"
kind = "elrs"
domain = "ISM2G4"
rate = "150"
eirp_dbm = 20.0
trajectory = {trajectory}
on = [[55.0, 62.0]]
""")
    control = [a for a in _raised(load_scene(path), 62.0) if a.family in CONTROL]
    assert control, "the ELRS beside its video was not alerted"
    first = control[0]
    assert first.family == "lora_fhss" and first.t_ns / 1e9 - 55.0 <= 2.0
    assert [n.node_id for n in first.nodes] == [1]  # the node the video passes, ~212 m away
