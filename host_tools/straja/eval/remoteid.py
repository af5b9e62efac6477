"""`straja eval`'s Remote ID row: the catalogue scenes with a Remote ID drone run whole through one
gateway configured with the scene's node positions (straja.eval.scenes.run_scene, the gateway's
Remote ID tracker and its links of RF tracks to Remote ID drones, gateway/ridlink.py), scored
against the scene's ground truth. Each scene runs DRAWS times: as written, then drawn anew with
the next seeds (reseeded). Whether a drone's claim explains the powers its video arrives with at
the nodes (the link rule) depends on the shadowing of its paths to them, a draw of the scene's
seed, so one run is one sample of the time to identify, not its measure.

Per Remote ID drone (a `remote_id` emitter; its RF links are the scene's drone emitters that fly
its trajectory): whether its alerts became identified with its UAS ID, how long after the first
alert about its RF link (the moment an operator first sees it), how many alert events about other
emitters were identified with its UAS ID (a wrong identity: an FPV pilot's link passed off as a
survey drone's), the error of the positions the gateway decoded from its broadcast against the
truth, and the error of the RF fixes of its
identified alerts against the truth and against its claimed position (the check of both that
issue 18 asks: where they agree, the claim is a second truth). An alert is about the emitters
`straja eval --scene` matches it to (straja.eval.scenes.alert_emitters): a drone's link only where
its transmissions explain the alert's hits at one of its nodes, so an alert over the band of a
link whose hits are another emitter's (or that none of its nodes could hear) is another
emitter's, and counts as a wrong identity if it carries the UAS ID.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ..gateway import config
from ..gateway.events import AlertCleared, RidEvent
from ..gateway.pipeline import Pipeline
from ..gateway.position import covers
from ..locate.geo import ground_distance_m
from ..paths import SCENES
from ..sim.emitters import DRONE_FAMILY
from ..sim.remoteid import to_local
from ..sim.scene import load_scene
from .scenes import Hearing, alert_emitters, run_scene, worker_pool

IDENTIFY_WITHIN_S = 3.0  # issue 17: identified within 3 s
DRAWS = 4  # runs of each Remote ID scene: as written, then with the next seeds


def remote_id_scenes() -> list:
    """The catalogue's scenes with a Remote ID drone."""
    return sorted(p for p in SCENES.glob("*.toml") if 'kind = "remote_id"' in p.read_text())


def reseeded(path, draw: int):
    """The scene file at `path`: draw 0 as written, another drawn anew with its seed plus `draw`
    (its included scenes too: straja.sim.scene.load_scene), other shadowing, fading and losses."""
    scene = load_scene(path)
    return load_scene(path, seed=scene.seed + draw) if draw else scene


def _flies_with(em, broadcaster, duration_s: float) -> bool:
    """An RF emitter on the broadcaster's trajectory (the same drone) when it is first on."""
    on = broadcaster.schedule.intervals(0.0, duration_s)
    t = on[0][0] if on else 0.0
    return float(np.linalg.norm(np.asarray(em.trajectory.position(t))
                                - np.asarray(broadcaster.trajectory.position(t)))) < 1.0


def score_scene(scene, plan: list | None = None, t_end_s: float | None = None) -> list[dict]:
    """A row per Remote ID drone of `scene`, run whole or to t_end_s (its nodes' own plans, or
    `plan`)."""
    run = run_scene(scene, pipeline=Pipeline(config.from_dict({"nodes": scene.gateway_nodes()})),
                    plan=plan, t_end_s=t_end_s)
    origin = scene.origin[:2]
    hearing = Hearing(scene)
    said = [a for a in run.alerts if not isinstance(a, AlertCleared)]
    about = [set(alert_emitters(scene, run, hearing, a)) for a in said]  # as `straja eval --scene`
    rows = []
    for rid in (em for em in scene.emitters if em.KIND == "remote_id"):
        uas_id = rid.p["uas_id"]
        links = {i for i, em in enumerate(scene.emitters) if em.KIND in DRONE_FAMILY
                 and _flies_with(em, rid, scene.duration_s)}
        first_alert = identified = None
        wrong_links = 0
        rf_errors, rf_covered, rf_vs_claim = [], [], []
        for a, emitters in zip(said, about):
            if links.isdisjoint(emitters):  # another emitter's, or where none of its nodes heard it
                wrong_links += a.uas_id == uas_id
                continue
            first_alert = a.t_ns / 1e9 if first_alert is None else first_alert
            if a.uas_id != uas_id:
                continue
            identified = a.t_ns / 1e9 if identified is None else identified
            if a.position_kind == "fix":
                truth = rid.trajectory.position(a.last_ns / 1e9)
                east, north = to_local(*origin, a.latitude, a.longitude)
                offset = (truth[0] - float(east), truth[1] - float(north))
                rf_errors.append(float(np.hypot(*offset)))
                rf_covered.append(covers(a.__dict__, offset))
                rf_vs_claim.append(ground_distance_m((a.latitude, a.longitude),
                                              (a.claimed_latitude, a.claimed_longitude)))
        claim_errors = []
        for e in run.events:
            if isinstance(e, RidEvent) and e.uas_id == uas_id and e.latitude is not None:
                truth = rid.trajectory.position(e.last_seen_ns / 1e9)
                east, north = to_local(*origin, e.latitude, e.longitude)
                claim_errors.append(float(np.hypot(truth[0] - float(east), truth[1] - float(north))))
        delay = None if identified is None or first_alert is None else identified - first_alert
        rows.append({
            "scene": scene.name, "seed": scene.seed, "uas_id": uas_id,
            "identified": identified is not None,
            "time_to_identify_s": None if delay is None else round(delay, 2),
            "within_3s": delay is not None and delay <= IDENTIFY_WITHIN_S,
            "wrong_links": wrong_links,
            "claim_error_m": _median(claim_errors), "claims": len(claim_errors),
            "rf_fix_error_m": _median(rf_errors), "rf_fixes": len(rf_errors),
            "rf_fix_coverage": float(np.mean(rf_covered)) if rf_covered else None,
            "rf_fix_to_claim_m": _median(rf_vs_claim)})
    return rows


def _median(values) -> float | None:
    return float(np.median(values)) if values else None


def _draw_job(args) -> list[dict]:
    """The rows of one Remote ID scene's run with its seed + draw."""
    path, draw, t_end_s = args
    scene = reseeded(path, draw)
    return score_scene(scene, t_end_s=None if t_end_s is None else min(t_end_s, scene.duration_s))


def evaluate(t_end_s: float | None = None, draws: int = DRAWS, jobs: int = 1) -> dict:
    """The rows of every Remote ID scene, each run `draws` times, whole or for its first t_end_s,
    `jobs` runs at a time."""
    runs = [(path, draw, t_end_s) for path in remote_id_scenes() for draw in range(draws)]
    with worker_pool(min(jobs, len(runs))) as pool:
        rows = [row for rows in (pool.imap(_draw_job, runs) if pool else map(_draw_job, runs))
                for row in rows]
    share = sum(r["within_3s"] for r in rows) / len(rows) if rows else None
    return {"drones": rows, "identified_within_3s": share, "t_end_s": t_end_s, "draws": draws,
            "wrong_links": sum(r["wrong_links"] for r in rows)}


def markdown(out: dict) -> list[str]:
    length = f"the first {out['t_end_s']:g} s (`--quick`)" if out.get("t_end_s") else "whole"
    L = ["", "## Remote ID", "",
         f"Every catalogue scene with a Remote ID drone, run {length} with {out['draws']} seeds "
         "(its own and the next ones: the drone's paths to the nodes shadowed anew; the fast "
         "path's nodes with the REMOTEID frames of what their Bluetooth radio hears, through one "
         "gateway configured with the scene's node positions; `straja.eval.remoteid`). Time to "
         "identify: from the first alert about the drone's RF link to the first alert identified "
         "with its UAS ID "
         f"(target: within {IDENTIFY_WITHIN_S:g} s). Claim error: the positions the gateway "
         "decoded from its broadcast against the truth. RF fix: the identified alerts' RF "
         "positions against the truth, their 95 % ellipse coverage, and their distance to the "
         "drone's claim. Wrong links: alert events about another emitter identified with its "
         "UAS ID (target: none).", "",
         "| scene | seed | UAS ID | identified | time to identify | claim error (median, claims) | "
         "RF fix error (median, fixes) | RF ellipse coverage | RF fix to claim (median) | "
         "wrong links |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v, digits=0: "n/a" if v is None else f"{v:.{digits}f} m"
    for r in out["drones"]:
        ident = "n/a" if r["time_to_identify_s"] is None else f"{r['time_to_identify_s']:.1f} s"
        cover = "n/a" if r["rf_fix_coverage"] is None else f"{r['rf_fix_coverage']:.0%}"
        L.append(f"| {r['scene']} | {r['seed']} | {r['uas_id']} | "
                 f"{'yes' if r['identified'] else '**no**'} | "
                 f"{ident} | {fmt(r['claim_error_m'], 1)} ({r['claims']}) | "
                 f"{fmt(r['rf_fix_error_m'])} ({r['rf_fixes']}) | {cover} | "
                 f"{fmt(r['rf_fix_to_claim_m'])} | {r['wrong_links']} |")
    share = out["identified_within_3s"]
    L += ["", "Share of Remote ID drones (scenes times seeds) identified within "
          f"{IDENTIFY_WITHIN_S:g} s: " + ("n/a" if share is None else f"{share:.0%}") + "; alert "
          f"events about another emitter identified with one's UAS ID: {out.get('wrong_links', 0)}."]
    return L


def main(argv=None) -> int:
    """The section alone: `python -m straja.eval.remoteid [--seconds S] [--draws N] [--json]`;
    exit 1 when a drone was not identified within IDENTIFY_WITHIN_S or a link was wrong."""
    ap = argparse.ArgumentParser(prog="python -m straja.eval.remoteid",
                                 description="straja eval's Remote ID section alone: the "
                                 "catalogue's Remote ID scenes, each with several seeds")
    ap.add_argument("--seconds", type=float, default=None,
                    help="run each scene's first S seconds (make eval: 60), not whole")
    ap.add_argument("--draws", type=int, default=DRAWS, help="seeds per scene (default %(default)s)")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = ap.parse_args(argv)
    if args.draws < 1 or (args.seconds is not None and not args.seconds > 0):
        ap.error("--draws must be 1 or more and --seconds positive")
    out = evaluate(args.seconds, args.draws)
    print(json.dumps(out) if args.json else "\n".join(markdown(out)))
    return 0 if out["identified_within_3s"] == 1.0 and not out["wrong_links"] else 1


if __name__ == "__main__":
    sys.exit(main())
