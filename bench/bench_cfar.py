"""CFAR across frequency against SciPy, same process, same input, outputs checked equal; CPU time.

    .venv/bin/python bench/bench_cfar.py [--quick]

Input: RSSI codes of exponential noise at -100 dBm with a hopper and a wide emitter
(bench_detect.scene), SWEEPS_CELLS cells per call; 8 training + 1 guard cells a side, Pfa 1e-6.
Kernels (straja.detect.cfar) and their SciPy peers:

- code CA, `cfar_codes` of a `design_codes("ca")` (integer sums of uint8 codes, a log-CFAR):
  `scipy.ndimage.uniform_filter1d` over the codes (float64, zero padding) for the window sums,
  the same integer test; every cell compared, sweep edges included.
- code OS, `design_codes("os")` (running histogram of the codes): `scipy.ndimage.rank_filter`
  with the training footprint (guard and cell under test left out) gives the k-th code; the
  same test; compared on the cells whose window is whole (SciPy pads the edges, we shrink them).
  (`percentile_filter` is `rank_filter` with the rank from a percentile: the same code path.)
- linear CA, `cfar_freq` on float32 mW (what the pipeline runs today): `uniform_filter1d` over
  the mW; detections compared except cells within 1e-5 of the threshold (float rounding).

Memory-bandwidth bound at BOUND_BINS bins: a code-domain kernel must read each code (1 byte)
and write each detection (1 byte); `numpy.copyto(out, codes)` over the same arrays moves those
bytes and nothing else: its rate in bins/s is the bound, measured in the same run.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).parent))
from bench_detect import scene  # noqa: E402
from timing import cpu, interleaved  # noqa: E402

from straja.detect import cfar  # noqa: E402

PFA, N_TRAIN, N_GUARD = 1e-6, 8, 1
TRAIN = (N_TRAIN, N_GUARD)
BINS = (64, 256, 1024, 4096)
BOUND_BINS = 4096
BOUND_CELLS = 1 << 25  # 32 MiB of codes and 32 of detections: past the caches (L3 32 MiB)


def training_sums(x, t, g):
    """(sum of the training cells, their number m) of every cell along axis 1, zero padded:
    the window of 2(t+g)+1 cells minus the guard band and the cell under test."""
    outer = ndimage.uniform_filter1d(x, 2 * (t + g) + 1, axis=1, mode="constant")
    inner = ndimage.uniform_filter1d(x, 2 * g + 1, axis=1, mode="constant")
    return outer * (2 * (t + g) + 1) - inner * (2 * g + 1)


def cells_in_window(n, t, g):
    """Training cells that exist for each of n cells (cut at the sweep's ends)."""
    i = np.arange(n)
    return (np.minimum(i - g, t).clip(0) + np.minimum(n - 1 - i - g, t).clip(0)).astype(np.int64)


def scipy_code_ca(codes, m, thr_m):
    """m and thr_m = d.thr[m] per column: the design's tables, looked up once outside timing."""
    s = np.rint(training_sums(codes.astype(np.float64), *TRAIN))
    return (m * codes - s > thr_m) & (m > 0)


def os_footprint(t, g):
    fp = np.ones((1, 2 * (t + g) + 1), bool)
    fp[0, t:t + 2 * g + 1] = False
    return fp


def scipy_code_os(codes, d, fp):
    kth = ndimage.rank_filter(codes, int(d.k_os[2 * d.n_train]) - 1, footprint=fp, mode="nearest")
    return codes.astype(np.int16) - kth > d.thr[2 * d.n_train]


def scipy_linear_ca(power, scale_m):
    """scale_m = d.scale_ca[m] per column, looked up once outside timing."""
    thr = scale_m * training_sums(power.astype(np.float64), *TRAIN)  # float32 would cancel
    return power > thr, thr


def rate(n_cells, seconds):
    return n_cells / seconds / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer cells and runs (a smoke run)")
    args = ap.parse_args()
    cells = 1 << (16 if args.quick else 19)
    budget = 0.3 if args.quick else 2.0
    code_ca, code_os = cfar.design_codes("ca", PFA, N_TRAIN, N_GUARD), cfar.design_codes("os", PFA, N_TRAIN, N_GUARD)
    lin_ca = cfar.design("ca", PFA, N_TRAIN, N_GUARD)
    fp = os_footprint(N_TRAIN, N_GUARD)
    edge = N_TRAIN + N_GUARD
    print(f"{cells} cells per call; M bins/s of CPU time (thread), min / median of the runs; "
          "ratio = ours / SciPy, from the minima")
    print(f"| kernel | bins | ours M bins/s | SciPy M bins/s | ratio |")
    print("|---|---:|---:|---:|---:|")
    for n_bins in BINS:
        codes, power, _, _ = scene(cells // n_bins, n_bins, seed=1)
        out = np.empty_like(codes)
        thr = np.empty_like(power)

        m = cells_in_window(n_bins, *TRAIN)
        thr_m = code_ca.thr[m]
        ours = cpu(lambda: cfar.cfar_codes(codes, code_ca, out=out), budget)
        assert np.array_equal(out, scipy_code_ca(codes, m, thr_m)), "code CA differs from SciPy"
        peer = cpu(lambda: scipy_code_ca(codes, m, thr_m), budget)
        row("code CA", n_bins, codes.size, ours, peer)

        ours = cpu(lambda: cfar.cfar_codes(codes, code_os, out=out), budget)
        inner = slice(edge, n_bins - edge)
        assert np.array_equal(out[:, inner], scipy_code_os(codes, code_os, fp)[:, inner]), \
            "code OS differs from SciPy"
        peer = cpu(lambda: scipy_code_os(codes, code_os, fp), budget)
        row("code OS", n_bins, codes.size, ours, peer, "rank_filter")

        ours = cpu(lambda: cfar.cfar_freq(power, lin_ca, out=out), budget)
        cfar.cfar_freq(power, lin_ca, out=out, threshold=thr)
        scale_m = lin_ca.scale_ca[m]
        det, peer_thr = scipy_linear_ca(power, scale_m)
        assert np.allclose(thr, peer_thr, rtol=1e-5, atol=0), "linear CA thresholds differ"
        clear = np.abs(power - peer_thr) > 1e-5 * peer_thr
        assert np.array_equal(out.astype(bool)[clear], det[clear]), "linear CA differs from SciPy"
        peer = cpu(lambda: scipy_linear_ca(power, scale_m), budget)
        row("linear CA (pipeline)", n_bins, codes.size, ours, peer)

    memory_bound(code_ca, budget, BOUND_CELLS >> (2 if args.quick else 0))


def memory_bound(d, budget, n_cells):
    """Code CA against numpy.copyto over the same arrays, in cache and past it, timed in turn
    (the bound moves with the other jobs' use of the memory bus)."""
    print(f"\nmemory-bandwidth bound at {BOUND_BINS} bins: numpy.copyto(detections, codes) moves "
          "the bytes code CA must (1 read, 1 written a bin); the two timed in turn, minima")
    print("| cells | MiB moved | copy M bins/s (GB/s) | code CA M bins/s | of the bound |")
    print("|---:|---:|---:|---:|---:|")
    for cells in (1 << 19, n_cells):
        codes = scene(cells // BOUND_BINS, BOUND_BINS, seed=2)[0]
        out = np.empty_like(codes)
        runs = interleaved({"copy": lambda: cpu_of(lambda: np.copyto(out, codes)),
                            "ours": lambda: cpu_of(lambda: cfar.cfar_codes(codes, d, out=out))},
                           budget)
        copy, ours = (rate(cells, min(runs[k])) for k in ("copy", "ours"))
        print(f"| {cells} | {2 * cells >> 20} | {copy:.0f} ({2 * copy / 1e3:.1f}) | {ours:.0f} "
              f"| {100 * ours / copy:.0f} % |", flush=True)


def cpu_of(fn) -> float:
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0


def row(name, n_bins, n_cells, ours, peer, peer_name="uniform_filter1d"):
    print(f"| {name} | {n_bins} | {rate(n_cells, ours[0]):.0f} / {rate(n_cells, ours[1]):.0f} "
          f"| {rate(n_cells, peer[0]):.1f} / {rate(n_cells, peer[1]):.1f} ({peer_name}) "
          f"| {peer[0] / ours[0]:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
