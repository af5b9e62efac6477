"""The video profile's trials (docs/detection.md, "Video profile"): analog video and 20 MHz OFDM
video at a chosen power over the floor (straja.eval.trials, seeds FIRST..FIRST+N-1), with the
gateway's `[alerts] video_profile` on and off: alerts within 2 s of switch-on, the mean time to
alert, and the first alert's family as last told (straja.eval.score.first_alert).

    .venv/bin/python bench/video_profile_trials.py [N] [SNR_DB] [FIRST]

Not run by run_all.py (not a bench_*.py): a tool for changes to the profile.
"""
import math
import random
import sys
from collections import Counter

from straja.eval import run as eval_run
from straja.eval.evaluate import EVAL_DETECT
from straja.eval.trials import FAMILIES, Family, Trial, run_trial

ANALOG = next(f for f in FAMILIES if f.name == "analog_video")
HORIZON_S = 4.0
# DJI-style OFDM at a 5.8 GHz centre drawn per trial (DJI's FPV channels span ~5735-5835 MHz)
OFDM_CENTRES_MHZ = (5735.0, 5835.0)


def ofdm(seed: int) -> Family:
    centre = round(random.Random(seed).uniform(*OFDM_CENTRES_MHZ), 1)
    return ANALOG._replace(name="dji_ofdm", label="DJI-style 20 MHz OFDM video",
                           emitter={"kind": "ofdm_video", "bw_mhz": 20.0, "centre_mhz": centre,
                                    "droneid": False})


def run(family_of, seeds, snr_db: float, profile: bool) -> dict:
    eval_run.GATEWAY = {"alerts": {"adaptive_scan": False, "video_profile": profile}}
    outcomes = [run_trial(Trial(family_of(seed), seed, snr_db), HORIZON_S, EVAL_DETECT)[0]
                for seed in seeds]
    alerted = [float(o.t_alert_s) for o in outcomes if math.isfinite(o.t_alert_s)]
    return {"within_2s": sum(t <= 2.0 for t in alerted), "n": len(outcomes),
            "mean_s": round(sum(alerted) / len(alerted), 3) if alerted else None,
            "families": dict(Counter(o.predicted for o in outcomes))}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    snr_db = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    seeds = range(first, first + n)
    for name, family_of in (("analog", lambda seed: ANALOG), ("dji_ofdm", ofdm)):
        for profile in (False, True):
            print(name, f"video_profile={profile}", run(family_of, seeds, snr_db, profile),
                  flush=True)


if __name__ == "__main__":
    main()
