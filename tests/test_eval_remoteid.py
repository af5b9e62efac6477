"""`straja eval`'s Remote ID row (straja.eval.remoteid) on a short scene: a Remote ID drone with
its video, scored end to end (fast path, gateway with the scene's node positions, truth)."""
from __future__ import annotations

import pytest

from straja.eval import remoteid
from straja.eval.readings import eval_plan_of
from straja.paths import SCENES
from straja.sim.scene import load_scene, scene_from_dict

PATH = [[0.0, 200.0, 420.0, 40.0], [30.0, 260.0, 450.0, 40.0]]  # near node n3 of quiet_rural


def test_a_remote_id_drone_is_scored_identified_with_its_errors():
    scene = scene_from_dict({
        "scene": {"name": "rid_row", "seed": 5, "duration_s": 30.0,
                  "include": ["quiet_rural.toml"]},
        "emitter": [
            {"name": "video", "kind": "analog_video", "channel": "R1", "eirp_dbm": 25.0,
             "trajectory": PATH},
            {"name": "broadcast", "kind": "remote_id", "uas_id": "ROW-1", "eirp_dbm": 20.0,
             "interval_s": 0.2, "trajectory": PATH},
            {"name": "silent", "kind": "remote_id", "uas_id": "NO-RF", "eirp_dbm": 10.0,
             "position_m": [-300.0, 300.0, 30.0]}]},
        base=SCENES)
    rows = {r["uas_id"]: r for r in remoteid.score_scene(
        scene, plan=eval_plan_of(("vid58",), step_khz=10_000))}
    row = rows["ROW-1"]
    assert row["identified"] and row["time_to_identify_s"] is not None
    assert row["within_3s"] == (row["time_to_identify_s"] <= remoteid.IDENTIFY_WITHIN_S)
    assert row["claims"] > 5 and row["claim_error_m"] < 5.0  # the decoded claim is the truth
    assert row["rf_fixes"] > 0 and row["rf_fix_error_m"] < 400.0
    assert 0.0 <= row["rf_fix_coverage"] <= 1.0 and row["rf_fix_to_claim_m"] is not None
    silent = rows["NO-RF"]  # heard, but no RF link of its own: nothing to identify
    assert not silent["identified"] and silent["time_to_identify_s"] is None
    assert silent["claims"] > 0 and silent["rf_fixes"] == 0
    assert row["seed"] == 5 and row["wrong_links"] == 0 == silent["wrong_links"]
    report = "\n".join(remoteid.markdown({"drones": list(rows.values()), "identified_within_3s": 0.5,
                                          "draws": 1, "wrong_links": 0}))
    assert "| rid_row | 5 | ROW-1 | yes |" in report
    drone_rows = [line for line in report.splitlines() if line.startswith("| rid_row |")]
    assert len(drone_rows) == 2 and all(line.endswith(" | 0 |") for line in drone_rows)
    assert "identified with one's UAS ID: 0." in report


def test_each_draw_is_the_scene_with_the_next_seed():
    path = remoteid.remote_id_scenes()[0]
    first, second = remoteid.reseeded(path, 0), remoteid.reseeded(path, 1)
    assert second.seed == first.seed + 1 and second.name == first.name
    assert [e.name for e in second.emitters] == [e.name for e in first.emitters]


def test_a_draw_after_the_first_draws_the_included_scenes_anew_too():
    """A draw k > 0 is the scene loaded with its seed + k (straja.sim.scene.load_scene, as
    `straja eval --seed`): the emitters of its included scenes are drawn anew with its own, not
    kept (a composite scene takes its drone and site from includes); draw 0 is the file as
    written."""
    path = SCENES / "crossfire_on_subghz_lora.toml"
    written = load_scene(path)
    first, second = remoteid.reseeded(path, 0), remoteid.reseeded(path, 1)
    assert [e.seed for e in first.emitters] == [e.seed for e in written.emitters]
    assert ([e.seed for e in second.emitters]
            == [e.seed for e in load_scene(path, seed=written.seed + 1).emitters])
    assert all(a.seed != b.seed for a, b in zip(first.emitters, second.emitters))


def test_the_section_alone_refuses_bad_arguments(capsys):
    for bad in (["--draws", "0"], ["--seconds", "-5"], ["--seconds", "nan"]):
        with pytest.raises(SystemExit) as e:
            remoteid.main(bad)
        assert e.value.code == 2 and "--draws must be 1 or more" in capsys.readouterr().err


def test_the_runs_in_two_workers_give_the_rows_of_one():
    """evaluate(jobs=2) runs the draws two at a time: the same rows, in the same order."""
    one = remoteid.evaluate(3.0, draws=2)
    two = remoteid.evaluate(3.0, draws=2, jobs=2)
    assert one == two and len(one["drones"]) >= 2


def test_an_identified_alert_over_a_link_none_of_its_nodes_could_hear_is_a_wrong_link(monkeypatch):
    """The matching of `straja eval --scene` (its hearing check): the same alerts scored against a
    truth whose video is 60 dB weaker, heard by no node, are about another emitter, and those
    identified with the drone's UAS ID are wrong links."""
    def scene(video_dbm):
        return scene_from_dict({
            "scene": {"name": "rid_heard", "seed": 5, "duration_s": 12.0,
                      "include": ["quiet_rural.toml"]},
            "emitter": [
                {"name": "video", "kind": "analog_video", "channel": "R1", "eirp_dbm": video_dbm,
                 "trajectory": PATH},
                {"name": "broadcast", "kind": "remote_id", "uas_id": "ROW-1", "eirp_dbm": 20.0,
                 "interval_s": 0.2, "trajectory": PATH}]},
            base=SCENES)
    plan = eval_plan_of(("vid58",), step_khz=10_000)
    run = remoteid.run_scene(scene(25.0), plan=plan)
    monkeypatch.setattr(remoteid, "run_scene", lambda *args, **kwargs: run)
    heard, = remoteid.score_scene(scene(25.0), plan=plan)
    assert heard["identified"] and heard["wrong_links"] == 0
    unheard, = remoteid.score_scene(scene(-35.0), plan=plan)
    identified = sum(a.uas_id == "ROW-1" for a in run.alerts if a.kind != "alert_cleared")
    assert not unheard["identified"] and unheard["wrong_links"] == identified > 0
