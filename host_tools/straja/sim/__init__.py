"""The RF scene simulator: emitters, propagation, per-node received power, ground truth.

    scene = load_scene("scenes/urban_24.toml")
    rf = scene.node("n1")                      # or scene.node("n1", front_end="rx5808")
    rf.band_power_dbm(2437e6, 1e6, 1.000, 1.0003)
    rf.sweep(freqs_hz, 1e6, t_starts, t_ends)  # many reads at once
"""
__all__ = ["Scene", "SceneError", "load_scene", "scene_from_dict"]


def __getattr__(name: str):
    """The scene names, imported on first use (PEP 562): importing a light submodule such as
    straja.sim.cli, to build `straja sim`'s parser, does not import NumPy."""
    if name in __all__:
        from . import scene
        return getattr(scene, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
