"""The RF scene simulator: emitters, propagation, per-node received power, ground truth.

    scene = load_scene("scenes/urban_24.toml")
    rf = scene.node("n1")                      # or scene.node("n1", front_end="rx5808")
    rf.band_power_dbm(2437e6, 1e6, 1.000, 1.0003)
    rf.sweep(freqs_hz, 1e6, t_starts, t_ends)  # many reads at once
"""
from .scene import Scene, SceneError, load_scene, scene_from_dict

__all__ = ["Scene", "SceneError", "load_scene", "scene_from_dict"]
