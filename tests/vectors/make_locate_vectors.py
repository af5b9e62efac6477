"""Records `Localiser.locate`'s results on randomized sites for tests/test_locate_vectors.py:
the reference a faster solver must reproduce (within 1e-6 relative). Made with the solver before
its restructuring (issue 16); run again only when the solver's results are meant to change:

    .venv/bin/python tests/vectors/make_locate_vectors.py > tests/vectors/locate.json
"""
import json
import sys

import numpy as np

from straja.locate import Localiser
from straja.rf import path_loss_db

FREQS = (5.8e9, 2.44e9, 915e6)


def sites(seed: int = 16):
    """(nodes, calls): each site's nodes and its successive locate calls (idx, dbm, freq, band);
    the calls of a site share its Localiser (its learnt spread)."""
    rng = np.random.default_rng(seed)
    for count in (3, 4, 5, 6, 8, 11, 16, 16):
        nodes = np.column_stack([rng.uniform(-800, 800, (count, 2)), rng.uniform(2, 20, count)])
        up = nodes[:, 2].mean() + 50
        calls = []
        for _ in range(3):
            truth = rng.uniform(-1500, 1500, 2)
            heard = np.sort(rng.choice(count, rng.integers(min(3, count), count + 1), False))
            two_bands = rng.random() < 0.4
            idx = np.concatenate([heard, heard[: max(1, heard.size // 2)]]) if two_bands else heard
            band = np.r_[np.zeros(heard.size, int), np.ones(idx.size - heard.size, int)]
            freq = np.array(FREQS)[band]
            d = np.sqrt(((nodes[idx, :2] - truth) ** 2).sum(1) + (up - nodes[idx, 2]) ** 2)
            dbm = (20 - path_loss_db(d, freq, rng.uniform(1.9, 2.8))
                   + rng.normal(0, rng.choice([2.0, 4.0, 8.0]), idx.size))
            with_freq = rng.random() < 0.8
            calls.append((idx.tolist(), dbm.tolist(), freq.tolist() if with_freq else None,
                           band.tolist() if two_bands else None))
        calls.append(([0, 1], calls[0][1][:2], None, None))        # a locus
        calls.append(([1], calls[0][1][:1], FREQS[0], None))        # a ring
        yield nodes.tolist(), calls


def describe(found, probes) -> dict:
    """Every field of a Fix, Locus or Ring (and a fix's derived region), as plain numbers."""
    out = {"kind": found.kind}
    if found.kind == "ring":
        out.update(node=found.node.tolist(), up_m=found.up_m, range_m=list(found.range_m))
    elif found.kind == "locus":
        out.update(nodes=found.nodes.tolist(), up_m=found.up_m, ratio=found.ratio,
                   ratio_band=list(found.ratio_band))
    else:
        out.update(
            east_north=found.east_north.tolist(), up_m=found.up_m, cov=found.cov.tolist(),
            scale2=found.scale2, power_db=found.power_db.tolist(), sigma_db=found.sigma_db,
            residuals_db=found.residuals_db.tolist(), bounded=found.bounded,
            candidates=[[c.east_north.tolist(), c.cov.tolist(), c.weight, c.exponent]
                        for c in found.candidates],
            region_scale2=found.region_scale2, ellipse=list(found.ellipse), parts=found.parts,
            likelihood_best=found.likelihood.best,
            likelihood_weight=found.likelihood.weight.tolist(),
            excess=found.likelihood.excess(np.asarray(probes)).tolist(),
            covers=[found.covers(p) for p in probes], outlined=[found.outlined(p) for p in probes])
    return out


def record() -> list:
    probes = np.random.default_rng(1).uniform(-1500, 1500, (6, 2))
    cases = []
    for nodes, calls in sites():
        loc = Localiser(nodes)
        cases.append({"nodes": nodes, "probes": probes.tolist(), "calls": [
            {"args": list(call), "result": describe(loc.locate(*call), probes)} for call in calls]})
    return cases


if __name__ == "__main__":
    json.dump(record(), sys.stdout, separators=(",", ":"))
