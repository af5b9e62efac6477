"""The video profile's trials (docs/detection.md, "Video profile"): analog video and DJI-style OFDM
video 10, 20 or 40 MHz wide at a chosen power over the floor (straja.eval.trials, seeds
FIRST..FIRST+N-1), with the gateway's `[alerts] video_profile` on, off or both: alerts within 2 s
of switch-on, the mean time to alert, and the first alert's family as last told
(straja.eval.score.first_alert).

    .venv/bin/python bench/video_profile_trials.py [N] [SNR_DB] [FIRST] [--video analog,ofdm20]
                                                   [--profile both|on|off]

--video: a comma-separated list of analog, ofdm10, ofdm20, ofdm40 (default analog,ofdm20).
Not run by run_all.py (not a bench_*.py): a tool for changes to the profile.
"""
import argparse
import math
import random
from collections import Counter

from straja.eval import run as eval_run
from straja.eval.evaluate import EVAL_DETECT
from straja.eval.trials import FAMILIES, Family, Trial, run_trial

ANALOG = next(f for f in FAMILIES if f.name == "analog_video")
HORIZON_S = 4.0
# DJI-style OFDM at a 5.8 GHz centre drawn per trial (DJI's FPV channels span ~5735-5835 MHz)
OFDM_CENTRES_MHZ = (5735.0, 5835.0)
OFDM_WIDTHS_MHZ = (10.0, 20.0, 40.0)   # OcuSync / O3 / Walksnail channel widths
PROFILE_RUNS = {"both": (False, True), "on": (True,), "off": (False,)}


def ofdm_of_width(width_mhz: float):
    """The family maker of OFDM video width_mhz wide, its centre drawn from the trial's seed."""
    def ofdm(seed: int) -> Family:
        centre = round(random.Random(seed).uniform(*OFDM_CENTRES_MHZ), 1)
        return ANALOG._replace(name=f"dji_ofdm{width_mhz:g}",
                               label=f"DJI-style {width_mhz:g} MHz OFDM video",
                               emitter={"kind": "ofdm_video", "bw_mhz": width_mhz,
                                        "centre_mhz": centre, "droneid": False})
    return ofdm


VIDEOS = {"analog": lambda seed: ANALOG,
          **{f"ofdm{w:g}": ofdm_of_width(w) for w in OFDM_WIDTHS_MHZ}}


def run(family_of, seeds, snr_db: float, profile: bool) -> dict:
    eval_run.GATEWAY = {"alerts": {"adaptive_scan": False, "video_profile": profile}}
    outcomes = [run_trial(Trial(family_of(seed), seed, snr_db), HORIZON_S, EVAL_DETECT)[0]
                for seed in seeds]
    alerted = [float(o.t_alert_s) for o in outcomes if math.isfinite(o.t_alert_s)]
    return {"within_2s": sum(t <= 2.0 for t in alerted), "n": len(outcomes),
            "mean_s": round(sum(alerted) / len(alerted), 3) if alerted else None,
            "families": dict(Counter(o.predicted for o in outcomes))}


def video_list(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in names if v not in VIDEOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown video {', '.join(unknown) or '(none)'}: "
                                         f"choose from {', '.join(VIDEOS)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=30, help="trials (default 30)")
    parser.add_argument("snr_db", nargs="?", type=float, default=10.0,
                        help="power over the floor, dB (default 10)")
    parser.add_argument("first", nargs="?", type=int, default=100, help="first seed (100)")
    parser.add_argument("--video", type=video_list, default=["analog", "ofdm20"],
                        help=f"comma-separated, of {', '.join(VIDEOS)} (default analog,ofdm20)")
    parser.add_argument("--profile", choices=PROFILE_RUNS, default="both",
                        help="the gateway's video_profile on, off or both (default)")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("n must be at least 1")
    seeds = range(args.first, args.first + args.n)
    for name in args.video:
        for profile in PROFILE_RUNS[args.profile]:
            print(name, f"snr={args.snr_db:g}", f"video_profile={profile}",
                  run(VIDEOS[name], seeds, args.snr_db, profile), flush=True)


if __name__ == "__main__":
    main()
