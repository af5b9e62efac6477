"""bench/band_levels.py: what an emitter adds to a site's narrow hits, and the mask's frame
cells (docs/measured/det25.md)."""
import importlib.util

import numpy as np

from straja.paths import REPO, SCENES

spec = importlib.util.spec_from_file_location("band_levels", REPO / "bench" / "band_levels.py")
band_levels = importlib.util.module_from_spec(spec)
spec.loader.exec_module(band_levels)


def test_isolated_hits_are_narrow_runs_with_a_quiet_neighbourhood():
    """A hop's hit, its neighbourhood quiet, is isolated; a piece among FRAME_MIN_HOT other hot
    cells within reach is a frame's; a wide run is neither a hit nor isolated."""
    threshold = np.ones(40, np.float32)
    single = np.zeros(40, np.float32)
    single[5] = 3.0                       # alone
    single[[20, 22, 24, 26]] = 3.0        # pieces of a frame: 22 and 24 have 3 others within
                                          # 4 cells, the edges 2 (as speckled_frame_pieces counts)
    single[32:38] = 3.0                   # a wide run (6 cells over a 4-cell hop)
    cells = np.flatnonzero(band_levels.isolated(single, threshold, max_width=4, reach=4))
    assert cells.tolist() == [5, 20, 26]


def test_an_emitter_off_leaves_the_others_draws_and_its_hits_are_the_difference():
    """--without: the scene again with the emitter off; frsky_alone's FrSky adds narrow hits,
    and without it the quiet site has none; each difference is the stage's row less its row
    without (stages paired in the order made)."""
    rows = dict(band_levels.rows(str(SCENES / "frsky_alone.toml"), 8.0, 5.0, "frsky", False))
    bands = band_levels.N_BANDS
    stages = [label for label in rows if label.endswith("difference")]
    assert stages
    assert sum(rows[label][:bands].sum() for label in rows if label[-1].isdigit()) > 0.1
    assert all(s[:bands].sum() == 0 for label, s in rows.items() if label.endswith("without"))
    for label in stages:
        stage = label.removesuffix(" difference")
        assert np.allclose(rows[label], rows[stage] - rows[f"{stage} without"])
