"""Plain NumPy references of the compiled detection kernels (straja._cfar, straja._detect).

They favour obviousness over speed, and the tests hold the compiled kernels to them. The
benchmark (bench/bench_detect.py) reports the compiled kernels' speed as a ratio to these.
"""
from __future__ import annotations

import numpy as np

from straja.detect.cfar import CFARDesign


def _cfar_lines(x: np.ndarray, half1: np.ndarray, half2: np.ndarray, d: CFARDesign):
    """CFAR along axis 1 of x (n_lines, n): training cells at offsets half1 and half2."""
    n = x.shape[1]
    offsets = np.concatenate([half1, half2])
    idx = np.arange(n)[:, None] + offsets[None, :]
    valid = (idx >= 0) & (idx < n)
    m = valid.sum(axis=1)
    vals = x[:, np.clip(idx, 0, max(n - 1, 0))]
    with np.errstate(invalid="ignore"):
        if d.kind == "os":
            v = np.where(valid, np.where(np.isnan(vals), np.inf, vals), np.inf)
            v.sort(axis=-1)
            rank = np.broadcast_to((d.k_os[m] - 1)[None, :, None], v.shape[:2] + (1,))
            thr = d.alpha_os[m] * np.take_along_axis(v, rank, axis=-1)[..., 0]
        else:
            vz = np.where(valid, vals, 0.0)
            s1 = vz[..., : len(half1)].sum(axis=-1)
            s2 = vz[..., len(half1):].sum(axis=-1)
            thr = d.scale_ca[m] * (s1 + s2)
            full = m == d.n_full
            if d.kind == "go":
                thr = np.where(full, d.scale_2 * np.maximum(s1, s2), thr)
            elif d.kind == "so":
                thr = np.where(full, d.scale_2 * np.minimum(s1, s2), thr)
    thr[:, m == 0] = np.inf
    return x > thr, thr


def cfar_freq(power: np.ndarray, d: CFARDesign):
    """(detections bool, thresholds float64) of CFAR across frequency, as straja._cfar."""
    t, g = d.n_train, d.n_guard
    lag = np.arange(-g - t, -g)
    lead = np.arange(g + 1, g + t + 1)
    return _cfar_lines(power.astype(np.float64), lag, lead, d)


def cfar_time(history: np.ndarray, d: CFARDesign):
    """CFAR across time over a whole history (n_sweeps, n_bins), sweep 0 the stream's first."""
    t, g = d.n_train, d.n_guard
    newer = -np.arange(g + 1, g + t // 2 + 1) if d.kind in ("go", "so") else -np.arange(g + 1, g + t + 1)
    older = -np.arange(g + t // 2 + 1, g + t + 1) if d.kind in ("go", "so") else np.arange(0)
    det, thr = _cfar_lines(history.astype(np.float64).T, newer, older, d)
    return det.T, thr.T
