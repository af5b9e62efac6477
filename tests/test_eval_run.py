"""straja eval end to end, small: a trial through the fast path and the gateway pipeline, a
background run, and a tiny whole evaluation written as a report."""
import json
import math

import pytest

from straja.eval import evaluate as evaluate_module, report
from straja.eval.evaluate import EVAL_DETECT, Settings, _trial_job, evaluate
from straja.eval.readings import CONTENDED_FIT_MAX, EVAL_PLAN
from straja.eval.run import run_session
from straja.eval.scenes import Hearing
from straja.eval.score import first_alert
from straja.eval.trials import FAMILIES, TARGET_SNR_DB, Trial, build, run_trial
from straja.eval.vnodes import compare
from straja.gateway.events import AlertRaised
from straja.paths import SCENES
from straja.sim import load_scene

VIDEO = next(f for f in FAMILIES if f.name == "analog_video")


def test_trial_sets_the_wanted_power_and_switch_on_from_truth():
    scene, t_on, snr = build(Trial(VIDEO, 3, 12.0), 4.0)
    assert 4.0 <= t_on <= 6.0
    assert abs(snr - 12.0) < 1e-6
    assert scene.emitters[-1].eirp_dbm != 20.0  # set for the wanted power at its distance


def test_a_trials_power_is_what_one_reading_shows_as_scored_scenes_hear_it():
    """A 40 MHz OFDM video set to +10 dB: a reading of the RX5808's 20 MHz filter shows +10 dB
    (Hearing, the scored scenes' one definition), half the video's power, 3 dB under its whole."""
    ofdm40 = VIDEO._replace(name="ofdm40", emitter={"kind": "ofdm_video", "bw_mhz": 40.0,
                                                    "centre_mhz": 5785.0, "droneid": False})
    scene, t_on, snr = build(Trial(ofdm40, 3, 10.0), 4.0)
    hearing = Hearing(scene)
    assert snr == pytest.approx(10.0, abs=1e-6)
    assert hearing.snr_at(len(scene.emitters) - 1, 0, 40e6, "n1", t_on) == pytest.approx(10.0)
    (filter_hz, whole), = hearing.levels(len(scene.emitters) - 1, 0, "n1", t_on)
    assert filter_hz == 20e6 and whole - snr == pytest.approx(10 * math.log10(2), abs=0.2)


def test_strong_video_is_alerted_after_switch_on():
    outcome, session, t_on = run_trial(Trial(VIDEO, 0, 25.0), 4.0, EVAL_DETECT, EVAL_PLAN)
    assert 0.0 < outcome.t_alert_s < 4.0
    assert outcome.predicted in ("analog_fm_video", "ofdm_video")
    raised = [e for e in session.events if isinstance(e, AlertRaised)]
    assert all(e.t_ns / 1e9 >= t_on for e in raised)  # nothing before the emitter is on


@pytest.mark.parametrize("family, seed, snr_db", [("analog_video", 3, 10.0),
                                                   ("elrs_2g4", 11, 10.0), ("elrs_2g4", 5, -6.0)])
def test_a_trial_ended_once_settled_scores_as_the_whole_one(family, seed, snr_db):
    """settled_s ends a trial at its first alert (or settled_s after switch-on, if later): the
    outcome and the sweeps within settled_s (the baseline's) are those of the whole run."""
    fam = next(f for f in FAMILIES if f.name == family)
    trial = Trial(fam, seed, snr_db)
    whole, whole_session, t_on = run_trial(trial, 2 * fam.target_s, EVAL_DETECT)
    short, session, _ = run_trial(trial, 2 * fam.target_s, EVAL_DETECT, settled_s=fam.target_s)
    assert short == whole
    t_scored = t_on + fam.target_s
    for (ends, tops), (all_ends, all_tops) in zip(session.peaks.values(),
                                                  whole_session.peaks.values()):
        n = int((all_ends <= t_scored).sum())
        assert (ends[:n] == all_ends[:n]).all() and (tops[:n] == all_tops[:n]).all()
    if whole.t_alert_s < fam.target_s:  # alerted in time: the rest of the horizon is not run
        assert session.seconds < whole_session.seconds
    elif math.isinf(whole.t_alert_s):  # never alerted: run to the horizon
        assert session.seconds == whole_session.seconds


def test_a_settled_trial_waits_for_the_video_profile_its_alert_asked():
    """A trial ended once settled still waits for the video profile its alert asked
    (gateway/profiling.py), which may rename the alert: DJI-style 20 MHz OFDM at 5.8 GHz is
    scored as the whole run scores it, named by its profile."""
    analog = next(f for f in FAMILIES if f.name == "analog_video")
    fam = analog._replace(name="dji_ofdm", emitter={"kind": "ofdm_video", "bw_mhz": 20.0,
                                                     "centre_mhz": 5772.5, "droneid": False})
    trial = Trial(fam, 101, TARGET_SNR_DB)
    whole, _, _ = run_trial(trial, 2 * fam.target_s, EVAL_DETECT)
    short, session, t_on = run_trial(trial, 2 * fam.target_s, EVAL_DETECT, settled_s=fam.target_s)
    assert whole.predicted == "ofdm_video" and short == whole
    assert session.seconds > t_on + whole.t_alert_s  # (not ended at the alert's sweep)


def test_a_session_node_reads_the_video_profile_the_gateway_asks_for(monkeypatch):
    """The fast path carries out the gateway's temporary profile plan (gateway/profiling.py),
    asked once the video is alerted, as a node does, and gets its normal plan back: the alert is
    updated with the profile's family (OFDM here), and the RX5808's peaks and codes are its
    normal plan's sweeps only."""
    from straja.eval.scenes import SceneNode

    plans = []
    command = SceneNode.command

    def recording(self, verb, args, t_s):
        if verb == "plan":
            plans.append((t_s, args))
        return command(self, verb, args, t_s)

    monkeypatch.setattr(SceneNode, "command", recording)
    scene = load_scene(SCENES / "dji_ofdm_alone.toml")  # switched on at 5 s
    session = run_session(scene, "n1", 8.0, seed=10, detect=EVAL_DETECT, keep_codes=True)
    raised = [e for e in session.events if isinstance(e, AlertRaised)]
    assert len(raised) == 1 and raised[0].t_ns / 1e9 < 5.0 + 2.0
    temp = [t for t, args in plans if " temp=" in args]
    assert len(temp) == 1 and temp[0] >= raised[0].t_ns / 1e9  # read after the alert
    assert any(t > temp[0] and " temp=" not in args for t, args in plans)  # the normal plan back
    t_alert, family = first_alert(session.events, 5.0)
    assert t_alert == raised[0].t_ns / 1e9 - 5.0 and family == "ofdm_video"
    assert session.codes[0].shape[1] == len(range(EVAL_PLAN[0]["start_khz"],
                                                   EVAL_PLAN[0]["stop_khz"] + 1,
                                                   EVAL_PLAN[0]["step_khz"]))


def test_quiet_site_raises_nothing():
    session = run_session(load_scene(SCENES / "quiet_rural.toml"), "n2", 60.0, seed=5,
                          detect=EVAL_DETECT)
    assert session.events == []
    ends, tops = session.peaks[1]
    assert 60.0 - 1.0 < ends[-1] <= 61.0 and len(ends) > 60  # the CC2500 swept all along


def test_a_background_run_draws_its_included_scenes_anew_with_its_seed(monkeypatch):
    """A background run's scene is the file loaded with the run's seed (load_scene, as
    `straja eval --seed`): the emitters of its included scenes are drawn anew too."""
    path = SCENES / "crossfire_on_subghz_lora.toml"

    class Ran(Exception):
        pass

    def run_session(scene, *args, **kwargs):
        raise Ran(scene)

    monkeypatch.setattr(evaluate_module, "run_session", run_session)
    with pytest.raises(Ran) as ran:
        evaluate_module._background_job((path, "n1", 1234, 1.0, EVAL_DETECT))
    scene, = ran.value.args
    assert ([e.seed for e in scene.emitters]
            == [e.seed for e in load_scene(path, seed=1234).emitters])
    assert all(a.seed != b.seed for a, b in zip(scene.emitters, load_scene(path).emitters))


def test_tiny_evaluation_writes_a_consistent_report(tmp_path):
    out = evaluate(Settings(curve_trials=1, target_trials=2, hours=60 / 3600, segment_s=20.0,
                            jobs=1, quick=True, speed=False, vnode_trials=0, catalogue=False,
                            localisation_fixes=3, remote_id=False),
                   log=lambda m: None)
    assert [b["scene"] for b in out["background"]] == [
        "urban_24ghz_background", "subghz_lora_background", "quiet_rural"]
    assert all(math.isclose(b["hours"], 60 / 3600) for b in out["background"])
    assert all(f["trials"] == 3 and f["at_target"]["n"] == 2 for f in out["families"])
    assert len(out["targets"]) == 2 * len(FAMILIES) + 3 + 3  # + the localisation's three
    assert {c["input"] for c in out["cfar"]} == {"exponential noise", "node readings, quiet site"}
    path = report.write(out, tmp_path / "rep", "straja eval --test")
    text = path.read_text()
    for heading in ("## Targets", "## Detection per link family", "## False alerts",
                    "## Localisation", "## Remote ID", "## Baseline", "## CFAR", "## Speed"):
        assert heading in text
    assert (tmp_path / "rep" / "pd_vs_power.png").stat().st_size > 1000
    assert (tmp_path / "rep" / "false_alerts.png").stat().st_size > 1000
    for figure in ("error_cdf.png", "coverage.png", "fixes_map.png"):
        assert (tmp_path / "rep" / figure).stat().st_size > 1000
    saved = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert saved["background"][0]["alerts"] == out["background"][0]["alerts"]


@pytest.mark.realtime
def test_a_trial_on_a_virtual_node_beside_the_fast_path(tmp_path):
    """A +10 dB video trial again on a real virtual node: scored the same way, its sweeps no
    faster than the fast path's node with a CPU of its own, and as long as the fast path's at
    the virtual node's measured CPU contention (where the model was fitted; roughly beyond)."""
    job = (Trial(VIDEO, 11, TARGET_SNR_DB), 2 * VIDEO.target_s, EVAL_DETECT, EVAL_PLAN)
    rows = compare([job], [_trial_job(job)], 1, EVAL_DETECT, log=lambda m: None)
    assert len(rows) == 1
    row = rows[0]
    assert row["n"] == 1 and row["front_end"] == "vid58" and row["slowdown"] >= 1.0
    fast, node = row["fast"], row["node"]
    assert fast["alerted"] == 1  # +10 dB video: seen in time
    # so is it by the virtual node, unless it is overloaded (its sweeps then stretch past it)
    assert node["alerted"] == 1 or row["slowdown"] > CONTENDED_FIT_MAX
    assert node["median_s"] <= VIDEO.target_s or not node["alerted"]
    assert fast["sweep_period_s"] <= 1.02 * node["sweep_period_s"]
    ratio = row["contended_sweep_period_s"] / node["sweep_period_s"]
    assert (0.8 < ratio < 1.2) if row["slowdown"] <= CONTENDED_FIT_MAX else (0.3 < ratio < 2.0)
    text = "\n".join(report._vnode_section(rows))
    assert "| analog 5.8 GHz video | 1 | 1 / 1 |" in text


def test_long_batches_say_how_far_they_are(monkeypatch):
    """`straja eval` prints progress with an ETA while its runs go (not minutes of silence)."""
    from straja.eval import evaluate

    monkeypatch.setattr(evaluate, "PROGRESS_EVERY_S", 0.0)
    said = []
    assert evaluate._map(None, abs, [-1, -2, -3], "trials", said.append) == [1, 2, 3]
    assert [s.split(", ETA")[0] for s in said] == ["  trials: 1/3 done", "  trials: 2/3 done"]
    assert all(s.endswith(" s") for s in said)
