"""Throughput of the detection core's compiled kernels (straja.detect), in million bins (cells)
per second of CPU time on one core.

    .venv/bin/python bench/bench_detect.py [--quick]

Batch table: every node has its own streaming state and is fed one call of many sweeps; sweeps
of 64..4096 bins, 1..64 nodes (the cost must grow linearly: the figures should stay flat along
a row). Live table: one 256-bin sweep per call, as a stream arrives. Each figure is CPU time of
this thread (`time.thread_time`), min / median of runs repeated until the minimum is stable
(bench/timing.py), as M bins/s. The NumPy references of straja.detect.reference are the tests'
oracles, not a yardstick, and are not timed here; bench_cfar.py times CFAR against SciPy.
Input: exponential (square-law) noise at -100 dBm, a hopper and a wide bursty emitter (see
scene()), so the burst and track stages have work.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

from straja.detect import cfar, noise
from straja.detect.bursts import BurstExtractor
from straja.detect.pipeline import Pipeline, PipelineConfig, busy_cells

sys.path.insert(0, str(Path(__file__).parent))
import timing  # noqa: E402

BINS = (64, 256, 1024, 4096)
NODES = (1, 4, 16, 64)
PFA = PipelineConfig().pfa
DESIGNS = {k: cfar.design(k, PFA, 8, 1) for k in cfar.KINDS}
TIME_DESIGNS = {k: cfar.design(k, PFA, 16, 2, axis="time") for k in ("ca", "os")}
NOISE_MW = 1e-10  # the scene's noise mean (-100 dBm): the busy mask's noise estimate
BUSY = busy_cells(1, 1_000, noise.floor_alpha(PFA)).settings  # 1 MHz channels: 20-cell windows


def scene(n_sweeps, n_bins, seed):
    """Noise at -100 dBm; a hopper (one cell 20 dB up in every 4th sweep, random channel); a
    wide emitter (1/16 of the band, 20 dB up) in one sweep of 50."""
    rng = np.random.default_rng(seed)
    p = rng.standard_exponential((n_sweeps, n_bins), dtype=np.float32) * np.float32(1e-10)
    hops = np.arange(0, n_sweeps, 4)
    p[hops, rng.integers(0, n_bins, hops.size)] *= 100
    wide = max(2, n_bins // 16)
    p[::50, n_bins // 2: n_bins // 2 + wide] *= 100
    with np.errstate(divide="ignore"):  # a reading of 0 is -inf dBm: code 0
        codes = np.clip(np.round((10 * np.log10(p) + 140) * 2), 0, 255).astype(np.uint8)
    t = np.arange(n_sweeps, dtype=np.int64) * 1000
    return codes, noise.codes_to_mw(codes), t, np.full(n_sweeps, 950, np.int64)


class Node:
    """One node's input and streaming states for every kernel."""

    def __init__(self, n_sweeps, n_bins, seed):
        self.codes, self.power, self.t, self.dur = scene(n_sweeps, n_bins, seed)
        self.mw = np.empty_like(self.power)
        self.det = np.empty(self.power.shape, np.uint8)
        self.mean = np.empty_like(self.power)
        self.time = {k: cfar.TimeCFAR(n_bins, d) for k, d in TIME_DESIGNS.items()}
        self.noise = noise.NoiseFloor(n_bins)
        self.bursts = BurstExtractor(n_bins, 2_400_000, 1_000, max_sweeps=16)
        self.busy = busy_cells(n_bins, 1_000, noise.floor_alpha(PFA))
        self.noise_mw = np.full_like(self.power, NOISE_MW)
        self.pipeline = Pipeline(n_bins, 2_400_000, 1_000)
        cfar.cfar_freq(self.power, DESIGNS["ca"], out=self.det)
        self.cfar_det = self.det.copy()


def compiled_kernels():
    """name -> f(node, rows) running the kernel on node's sweeps rows (a slice)."""
    k = {"codes -> mW": lambda n, r: noise.codes_to_mw(n.codes[r], out=n.mw[r])}
    for kind in cfar.KINDS:
        k[f"CFAR freq {kind.upper()}"] = (
            lambda n, r, d=DESIGNS[kind]: cfar.cfar_freq(n.power[r], d, out=n.det[r]))
    for kind in TIME_DESIGNS:
        k[f"CFAR time {kind.upper()}"] = (
            lambda n, r, kind=kind: n.time[kind].process(n.power[r], out=n.det[r]))
    k["noise floor"] = lambda n, r: n.noise.process(n.power[r], out=n.mean[r])
    k["bursts"] = lambda n, r: n.bursts.process(n.cfar_det[r], n.power[r], n.t[r], n.dur[r])
    k["busy mask"] = lambda n, r: n.busy.process(n.codes[r], n.power[r], n.noise_mw[r], n.det[r])
    k["pipeline"] = lambda n, r: n.pipeline.process(n.codes[r], n.t[r], n.dur[r])
    return k


def rate(cells: int, f, budget_s: float) -> tuple[float, float]:
    """(from the minimum, from the median) M cells/s of CPU time of f(), which handles cells."""
    best, median = timing.cpu(f, budget_s)
    return cells / best / 1e6, cells / median / 1e6


SLOW = ("CFAR freq OS", "CFAR time OS")


def batch_table(cells_per_call, budget_s):
    """Each node: one call of cells_per_call cells (an eighth for the slower kernels)."""
    kernels = compiled_kernels()
    for n_bins in BINS:
        per_node = max(8, cells_per_call // n_bins)
        nodes = [Node(per_node, n_bins, seed) for seed in range(max(NODES))]
        for name, run in kernels.items():
            sweeps = slice(0, max(8, per_node // 8) if name in SLOW else per_node)
            figs = []
            for n in NODES:
                group = nodes[:n]

                def call(group=group):
                    for node in group:
                        run(node, sweeps)

                figs.append(rate(n * sweeps.stop * n_bins, call, budget_s))
            print(f"{name:16s} {n_bins:5d} " + " ".join(f"{b:7.1f} / {m:<7.1f}" for b, m in figs),
                  flush=True)
        del nodes


def live_table(n_sweeps, budget_s):
    """One 256-bin sweep per call (a live stream)."""
    for name, run in compiled_kernels().items():
        node = Node(n_sweeps, 256, 1)

        def call():
            for s in range(n_sweeps):
                run(node, slice(s, s + 1))

        best, median = rate(n_sweeps * 256, call, budget_s)
        print(f"{name:16s} {best:7.1f} / {median:<7.1f} ({256 / best:.1f} µs a sweep)",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer cells (a smoke run)")
    args = ap.parse_args()
    cells = 1 << (14 if args.quick else 17)
    t0 = time.perf_counter()
    print(f"Batch calls of {cells} cells per node (an eighth for {', '.join(SLOW)}); M bins/s of "
          "CPU time (thread) on one core, min / median")
    print(f"{'kernel':16s} {'bins':>5s} " + " ".join(f"{f'{n} nodes':>17s}" for n in NODES))
    budget_s = 0.05 if args.quick else 0.5  # CPU seconds a figure at most
    batch_table(cells, budget_s)
    print("\nLive stream: one 256-bin sweep per call, M bins/s of CPU time, min / median")
    live_table(500 if args.quick else 2000, budget_s)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s wall")


if __name__ == "__main__":
    main()
