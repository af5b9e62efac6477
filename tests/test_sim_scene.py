"""Scene files: clear errors naming file, line and field; the catalogue; ground truth; CLI."""
import json

import numpy as np
import pytest

from straja.paths import SCENES
from straja.sim import SceneError, load_scene
from straja.sim.cli import main as sim_main
from straja.sim.truth import read_truth, write_truth

GOOD = """\
[scene]
name = "t"
seed = 4
duration_s = 20.0

[[node]]
name = "n1"
position_m = [0.0, 0.0, 2.0]

[[node.front_end]]
name = "cc2500"
noise_figure_db = 8.0

[[emitter]]
name = "ctl"
kind = "elrs"
rate = "500"
position_m = [100.0, 0.0, 2.0]

[[emitter]]
name = "vid"
kind = "analog_video"
channel = "R3"
trajectory = [[0.0, 500.0, 0.0, 50.0], [20.0, 100.0, 0.0, 50.0]]
on = [[2.0, 18.0]]
"""


def load_text(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return load_scene(p)


def error_of(tmp_path, text):
    with pytest.raises(SceneError) as e:
        load_text(tmp_path, text)
    return str(e.value)


def test_good_scene(tmp_path):
    sc = load_text(tmp_path, GOOD)
    assert sc.duration_s == 20.0 and sc.seed == 4 and list(sc.nodes) == ["n1"]
    assert sc.node("n1").fe.name == "cc2500"
    with pytest.raises(KeyError, match="no node 'n9'"):
        sc.node("n9")


@pytest.mark.parametrize("old,new,line,field", [
    ('rate = "500"', 'rate = "400"', 17, "emitter[0].rate"),
    ('channel = "R3"', 'channel = "Q3"', 23, "emitter[1].channel"),
    ('noise_figure_db = 8.0', 'noise_figure_db = "high"', 12, "node[0].front_end[0].noise_figure_db"),
    ('duration_s = 20.0', 'duration_s = -1.0', 4, "scene.duration_s"),
    ('on = [[2.0, 18.0]]', 'on = [[18.0, 2.0]]', 25, "emitter[1].on"),
    ('kind = "elrs"', 'kind = "elrs2"', 16, "emitter[0].kind"),
    ('rate = "500"', 'rate = "500"\nsped = 3', 18, "emitter[0].sped"),
    ('position_m = [100.0, 0.0, 2.0]', 'position_m = [100.0, 0.0]', 18, "emitter[0].position_m"),
])
def test_errors_name_line_and_field(tmp_path, old, new, line, field):
    msg = error_of(tmp_path, GOOD.replace(old, new))
    assert f"s.toml:{line}: {field}:" in msg


def test_syntax_error_line(tmp_path):
    msg = error_of(tmp_path, GOOD.replace('kind = "elrs"', 'kind = elrs"'))
    assert "s.toml:16:" in msg and "TOML syntax error" in msg


def test_missing_field_and_duplicates(tmp_path):
    assert "emitter[1].position_m: give exactly one" in error_of(
        tmp_path, GOOD.replace('trajectory = [[0.0, 500.0, 0.0, 50.0], [20.0, 100.0, 0.0, 50.0]]\n', ''))
    assert "duplicate emitter name 'ctl'" in error_of(tmp_path, GOOD.replace('"vid"', '"ctl"'))
    assert "missing required field" in error_of(tmp_path, GOOD.replace('duration_s = 20.0\n', ''))


CATALOGUE = sorted(SCENES.glob("*.toml"))
# variants of the catalogue's links and sites, kept apart (docs/scenes.md, "Variants")
VARIANTS = sorted((SCENES / "variants").glob("*.toml"))


def test_catalogue_is_complete():
    names = {p.stem for p in CATALOGUE}
    for link in ("elrs_2g4", "elrs_868", "elrs_915", "crossfire", "frsky", "analog_video", "dji_ofdm"):
        assert f"{link}_alone" in names
        assert any(n.startswith(f"{link}_on_") for n in names)
    assert {"quiet_rural", "urban_24ghz_background", "subghz_lora_background", "two_drones",
            "fpv_approach_3km"} <= names
    for link in ("flysky", "dsmx", "elrs_f1000", "elrs_f500", "ocusync_58", "ocusync_24"):
        assert f"{link}_alone" in names
    assert {"busy_24ghz_background", "wifi_5ghz_149_165_background", "bluetooth_ble_background",
            "microwave_ovens_background", "eu868_lorawan_meshtastic_background",
            "us915_dense_background", "analog_camera_fixed_background"} <= names
    for p in CATALOGUE + VARIANTS:
        assert p.read_text().startswith("# "), f"{p.name} needs a comment header"
    assert len(VARIANTS) >= 9


@pytest.mark.parametrize("path", CATALOGUE + VARIANTS, ids=[p.stem for p in CATALOGUE + VARIANTS])
def test_catalogue_loads_and_reads(path):
    sc = load_scene(path)
    rf = sc.node(next(iter(sc.nodes)))
    p = rf.sweep(np.linspace(860e6, 5900e6, 200), 1e6, sc.duration_s / 2, sc.duration_s / 2 + 0.01)
    assert np.all(np.isfinite(p)) and np.all(p >= -174 + 60)


def test_a_scene_reseeded_draws_every_emitter_anew_its_includes_too(tmp_path):
    """load_scene(seed=N) (`straja eval --scene --seed N`): the same scene with other random
    draws, the emitters of its included scenes too (a composite catalogue scene takes its drone
    and its site from includes, so reseeding its own file alone would keep both draws), each
    include apart from the scene's own emitters; the same N, the same draws."""
    path = SCENES / "crossfire_on_subghz_lora.toml"
    own, again = load_scene(path), load_scene(path, seed=1001)
    assert again.seed == 1001 and [e.name for e in again.emitters] == [e.name for e in own.emitters]
    assert all(a.seed != b.seed for a, b in zip(own.emitters, again.emitters))
    assert [e.seed for e in load_scene(path, seed=1001).emitters] == [e.seed for e in again.emitters]
    (tmp_path / "site.toml").write_text(GOOD)
    (tmp_path / "both.toml").write_text('[scene]\nname = "both"\nduration_s = 20.0\n'
                                        'include = ["site.toml"]\n\n[[emitter]]\nname = "ctl2"\n'
                                        'kind = "elrs"\nposition_m = [50.0, 0.0, 2.0]\n')
    both = load_scene(tmp_path / "both.toml", seed=7)
    assert [e.name for e in both.emitters] == ["ctl", "vid", "ctl2"]
    assert both.emitters[0].seed != both.emitters[2].seed  # each the first of its file


def test_fpv_approach_geometry():
    sc = load_scene(SCENES / "fpv_approach_3km.toml")
    vid, n1 = sc.emitter("fpv_video"), sc.nodes["n1"].position
    d = vid.trajectory.distance(np.array([0.0, 160.0]), n1)
    assert d[0] == pytest.approx(3000, rel=0.01) and d[1] == pytest.approx(100, rel=0.1)


def test_truth_roundtrip_and_determinism(tmp_path):
    sc = load_text(tmp_path, GOOD)
    counts = write_truth(sc, tmp_path / "a.jsonl", 0.0, 5.0)
    write_truth(load_text(tmp_path, GOOD), tmp_path / "b.jsonl", 0.0, 5.0)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    t = read_truth(tmp_path / "a.jsonl")
    assert counts == {"header": 1, "on": 2, "tx": len(t.tx), "rx": 50}
    assert t.header["scene"] == "t" and [e["name"] for e in t.header["emitters"]] == ["ctl", "vid"]
    assert not t.is_on("vid", 1.0) and t.is_on("vid", 3.0)
    hops = [r for r in t.tx if r["emitter"] == "ctl"]
    # ELRS 500 Hz: 4 packets per hop, 8 ms per hop
    assert all(r["n"] <= 4 for r in hops) and len(hops) == pytest.approx(5.0 / 0.008, abs=2)
    video = [r for r in t.tx if r["emitter"] == "vid"]
    assert len(video) == 1 and video[0]["t0"] == 2.0 and video[0]["f_hz"] == 5732e6
    rx = t.rx[30]
    assert rx["t"] == pytest.approx(3.0) and rx["on"] == ["ctl", "vid"]
    assert rx["d_m"]["ctl"] == pytest.approx(100.0)
    assert t.on_air(3.0, 3.001, 5700e6, 5800e6)[0]["emitter"] == "vid"


def test_cli_check_and_truth(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(GOOD)
    assert sim_main(["check", str(path)]) == 0
    assert "emitter ctl [elrs]" in capsys.readouterr().out
    out = tmp_path / "t.jsonl"
    assert sim_main(["truth", str(path), "--out", str(out), "--t1", "2"]) == 0
    assert json.loads(out.read_text().splitlines()[0])["type"] == "header"
    path.write_text(GOOD.replace('rate = "500"', 'rate = 500.5'))
    assert sim_main(["check", str(path)]) == 2  # a bad scene is bad input (exit 2)
    assert "s.toml:17: emitter[0].rate" in capsys.readouterr().err


NEW_SCENES = ["flysky_alone", "dsmx_alone", "elrs_f1000_alone", "ocusync_58_alone",
              "busy_24ghz_background", "wifi_5ghz_149_165_background", "us915_dense_background"]


@pytest.mark.parametrize("name", NEW_SCENES)
def test_new_scenes_check_and_truth(name, tmp_path, capsys):
    assert sim_main(["check", str(SCENES / f"{name}.toml")]) == 0
    assert f"scene {name!r}" in capsys.readouterr().out
    out = tmp_path / "t.jsonl"
    assert sim_main(["truth", str(SCENES / f"{name}.toml"), "--out", str(out),
                     "--t0", "10", "--t1", "12"]) == 0
    t = read_truth(out)
    sc = load_scene(SCENES / f"{name}.toml")
    assert t.tx and {r["emitter"] for r in t.tx} <= {em.name for em in sc.emitters}
    # every stream of every emitter is on air (background devices may be silent for 2 s)
    for em in sc.emitters if name.endswith("_alone") else ():
        for st in em.streams:
            assert any(r["emitter"] == em.name and r["stream"] == st.name for r in t.tx), st.name


def test_remote_end_errors(tmp_path):
    both = GOOD.replace('rate = "500"', 'rate = "500"\ntlm_ratio = 4\nremote_position_m = [0.0, 0.0, 50.0]'
                        '\nremote_trajectory = [[0.0, 1.0, 2.0, 3.0]]')
    assert "emitter[0].remote_position_m: give at most one" in error_of(tmp_path, both)
    bad = GOOD.replace('rate = "500"', 'rate = "500"\nremote_trajectory = [[1.0, 1.0], [0.0, 1.0]]')
    assert "emitter[0].remote_trajectory: must be a non-empty list" in error_of(tmp_path, bad)
