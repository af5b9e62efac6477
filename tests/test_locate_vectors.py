"""`Localiser.locate` reproduces the results recorded from the solver before its restructuring
(issue 16; tests/vectors/make_locate_vectors.py): randomized sites of 3-16 nodes, one or two
bands, with and without a frequency, successive fixes sharing a site's learnt spread."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from straja.locate import Localiser

VECTORS = Path(__file__).parent / "vectors"
CASES = json.loads((VECTORS / "locate.json").read_text())
sys.path.insert(0, str(VECTORS))
from make_locate_vectors import describe  # noqa: E402 (the recorder's own description)


def _same(got, want, where: str) -> None:
    """Equal within 1e-6 relative (numbers against the magnitude of their array)."""
    if isinstance(want, (bool, str)):
        assert got == want, where
        return
    got, want = np.asarray(got, float), np.asarray(want, float)
    assert got.shape == want.shape, where
    scale = np.abs(want).max() if want.size else 0.0
    assert np.allclose(got, want, rtol=1e-6, atol=1e-6 * scale), where


@pytest.mark.parametrize("case", range(len(CASES)))
def test_locate_reproduces_the_recorded_fixes(case):
    site = CASES[case]
    loc = Localiser(site["nodes"])
    for k, call in enumerate(site["calls"]):
        got = describe(loc.locate(*call["args"]), np.asarray(site["probes"]))
        want = call["result"]
        assert got.keys() == want.keys()
        for name, value in want.items():
            if name == "candidates":
                assert len(got[name]) == len(value), f"call {k}: candidates"
                for j, (g, w) in enumerate(zip(got[name], value)):
                    for part, (gp, wp) in enumerate(zip(g, w)):
                        _same(gp, wp, f"call {k}: candidate {j} field {part}")
            else:
                _same(got[name], value, f"call {k}: {name}")


def test_least_residual_sums_are_the_profiles_least_cost():
    """The spread's residual draws (`_least_residual_sums`, a D x G product) against the profile
    (`_profile`, every residual formed) on random powers, distances and one or two bands."""
    from straja.locate.rss import _least_residual_sums, _profile
    rng = np.random.default_rng(3)
    for readings, band_count in ((4, 1), (9, 2), (16, 1)):
        bands = np.eye(band_count)[np.arange(readings) % band_count]
        log_d = rng.uniform(20, 35, (300, readings))
        dbm = rng.normal(-70, 8, (7, readings))
        want = _profile(log_d, dbm[:, None, :], bands, 2.4, np.eye(readings), None)[2].min(-1)
        assert np.allclose(_least_residual_sums(log_d, dbm, bands, 2.4), want, rtol=1e-9)
