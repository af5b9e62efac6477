"""The 2.4 GHz control links' trials (docs/measured/det19.md): each
family switched on near node n1 of the quiet site at a chosen power over the floor
(straja.eval.trials, seeds FIRST..FIRST+N-1, the evaluation's whole plan), run 2.5 s past
switch-on: alerts within 2 s, of those with the family the classifier should name (the first
alert's family as last told, straja.eval.score.first_alert), and every trial's time to alert.

    .venv/bin/python bench/hopper_trials.py [N] [SNR_DB] [FIRST] [--family frsky,dsmx]

--family: a comma-separated list of the names below (default all).
Not run by run_all.py (not a bench_*.py): a tool for changes to the band hopper.
"""
import argparse
import math

from straja.argtypes import non_negative_int, positive_int
from straja.eval.trials import Family, Trial, run_trial

HORIZON_S = 2.5
TARGET_S = 2.0
FAMILIES = {f.name: f for f in (
    Family(name, name, emitter, "ism24", TARGET_S, 0.9, 1.5) for name, emitter in (
        ("frsky", {"kind": "frsky"}),
        ("dsmx", {"kind": "dsmx"}),
        ("flysky", {"kind": "flysky"}),
        ("elrs_f500", {"kind": "elrs", "domain": "ISM2G4", "rate": "F500"}),
        ("elrs_f1000", {"kind": "elrs", "domain": "ISM2G4", "rate": "F1000"}),
        ("elrs_2g4", {"kind": "elrs", "domain": "ISM2G4", "rate": "150"})))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="?", type=positive_int, default=20)
    ap.add_argument("snr_db", nargs="?", type=float, default=10.0)
    ap.add_argument("first", nargs="?", type=non_negative_int, default=1000)
    ap.add_argument("--family", default=",".join(FAMILIES))
    args = ap.parse_args()
    unknown = set(args.family.split(",")) - set(FAMILIES)
    if unknown:
        ap.error(f"--family: unknown {sorted(unknown)} (known: {','.join(FAMILIES)})")
    for name in args.family.split(","):
        fam = FAMILIES[name]
        outcomes = [run_trial(Trial(fam, args.first + i, args.snr_db), HORIZON_S)[0]
                    for i in range(args.n)]
        within = [o for o in outcomes if o.t_alert_s <= TARGET_S]
        right = sum(o.predicted == fam.expect for o in within)
        times = " ".join("-" if math.isinf(o.t_alert_s) else f"{o.t_alert_s:.2f}"
                         for o in sorted(outcomes, key=lambda o: o.t_alert_s))
        print(f"{name}: within {TARGET_S:g} s {len(within)}/{args.n}, {right} named "
              f"{fam.expect}; times {times}", flush=True)


if __name__ == "__main__":
    main()
