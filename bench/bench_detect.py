"""Throughput of the detection core (straja.detect, compiled) and of its NumPy reference, in the
same run, in million bins (cells) per second on one core.

    .venv/bin/python bench/bench_detect.py [--quick]

Batch table: every node has its own streaming state and is fed one call of many sweeps; sweeps
of 64..4096 bins, 1..64 nodes (the cost must grow linearly: the figures should stay flat along
a row). Live table: one 256-bin sweep per call, as a stream arrives. The reference runs once per
sweep size (it has no per-node state worth measuring) on fewer cells; ratio = compiled / reference.
Input: exponential (square-law) noise at -100 dBm, a hopper and a wide bursty emitter (see
scene()), so the burst and track stages have work.
"""
import os
import sys

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set for other tools, slow numpy: drop them for this
# process only (re-exec before numpy is imported), so the reference is timed fairly.
if any(k in os.environ for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import argparse  # noqa: E402
import time  # noqa: E402
from math import log  # noqa: E402

import numpy as np  # noqa: E402

from straja.detect import cfar, noise  # noqa: E402
from straja.detect import reference as ref  # noqa: E402
from straja.detect.bursts import BurstExtractor  # noqa: E402
from straja.detect.pipeline import Pipeline, PipelineConfig, busy_cells  # noqa: E402
from straja.detect.tracks import BURST, TrackerConfig  # noqa: E402

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
    k["busy mask"] = lambda n, r: n.busy.process(n.codes[r], n.noise_mw[r], n.det[r])
    k["pipeline"] = lambda n, r: n.pipeline.process(n.codes[r], n.t[r], n.dur[r])
    return k


def ref_pipeline(codes, t, dur):
    p = ref.codes_to_mw(codes)
    det = ref.cfar_freq(p, DESIGNS["ca"])[0]
    det |= p > -log(PFA) * ref.noise_floor(p)
    found = ref.bursts(det.astype(np.uint8), p, t, dur, max_sweeps=16)
    b = np.zeros(len(found), BURST)
    for i, x in enumerate(found):
        for name, value in x.items():
            b[i][name] = value
    b["centre_khz"] = 2_400_000 + 500 * (b["bin_lo"] + b["bin_hi"])
    b["bandwidth_khz"] = 1000 * (b["bin_hi"] - b["bin_lo"] + 1)
    ref.track_events(b, int(t[-1] + dur[-1]), TrackerConfig())


def reference_kernels():
    """name -> f(codes, power, det, t, dur) with the reference of the same name."""
    k = {"codes -> mW": lambda c, p, d, t, u: ref.codes_to_mw(c)}
    for kind in cfar.KINDS:
        k[f"CFAR freq {kind.upper()}"] = lambda c, p, d, t, u, x=DESIGNS[kind]: ref.cfar_freq(p, x)
    for kind in TIME_DESIGNS:
        k[f"CFAR time {kind.upper()}"] = (
            lambda c, p, d, t, u, x=TIME_DESIGNS[kind]: ref.cfar_time(p, x))
    k["noise floor"] = lambda c, p, d, t, u: ref.noise_floor(p)
    k["bursts"] = lambda c, p, d, t, u: ref.bursts(d, p, t, u, max_sweeps=16)
    k["busy mask"] = lambda c, p, d, t, u: ref.busy_mask(c, np.full_like(p, NOISE_MW), d, *BUSY)
    k["pipeline"] = lambda c, p, d, t, u: ref_pipeline(c, t, u)
    return k


def best_of(f, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


SLOW = ("CFAR freq OS", "CFAR time OS")


def batch_table(cells_per_call, quick):
    """Each node: one call of cells_per_call cells (an eighth for the slower kernels)."""
    kernels, refs = compiled_kernels(), reference_kernels()
    rows = []
    for n_bins in BINS:
        per_node = max(8, cells_per_call // n_bins)
        nodes = [Node(per_node, n_bins, seed) for seed in range(max(NODES))]
        for name, run in kernels.items():
            line = [name, n_bins]
            sweeps = slice(0, max(8, per_node // 8) if name in SLOW else per_node)
            for n in NODES:
                group = nodes[:n]

                def call(group=group):
                    for node in group:
                        run(node, sweeps)

                line.append(n * sweeps.stop * n_bins / best_of(call) / 1e6)
            ref_sweeps = max(4, min(sweeps.stop, (1 << (12 if quick else 14)) // n_bins))
            node = nodes[0]
            r = slice(0, ref_sweeps)
            args = (node.codes[r], node.power[r], node.cfar_det[r], node.t[r], node.dur[r])
            dt = best_of(lambda: refs[name](*args), repeats=1 if quick else 2)
            line.append(ref_sweeps * n_bins / dt / 1e6)
            rows.append(line)
            print_row(line, flush=True)
        del nodes
    return rows


def live_table(n_sweeps=2000):
    """One 256-bin sweep per call (a live stream), compiled vs reference called the same way."""
    kernels, refs = compiled_kernels(), reference_kernels()
    out = []
    for name, run in kernels.items():
        node = Node(n_sweeps, 256, 1)

        def call():
            for s in range(n_sweeps):
                run(node, slice(s, s + 1))

        dt = best_of(call, repeats=2)
        k = 200

        def call_ref():
            for s in range(k):
                r = slice(s, s + 1)
                refs[name](node.codes[r], node.power[r], node.cfar_det[r], node.t[r], node.dur[r])

        dt_ref = best_of(call_ref, repeats=1)
        fast, slow = n_sweeps * 256 / dt / 1e6, k * 256 / dt_ref / 1e6
        out.append((name, fast, slow))
        print(f"{name:16s} {fast:9.1f} {slow:9.2f} {fast / slow:8.0f}x", flush=True)
    return out


def print_row(line, flush=False):
    name, n_bins, *figs, ref_rate = line
    cols = " ".join(f"{f:8.1f}" for f in figs)
    print(f"{name:16s} {n_bins:5d} {cols} {ref_rate:9.2f} {figs[0] / ref_rate:7.0f}x", flush=flush)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer cells (a smoke run)")
    args = ap.parse_args()
    cells = 1 << (14 if args.quick else 17)
    t0 = time.perf_counter()
    print(f"Batch calls of {cells} cells per node (an eighth for {', '.join(SLOW)}),")
    print("M bins/s on one core. Columns: nodes; numpy reference; ratio at 1 node")
    print(f"{'kernel':16s} {'bins':>5s} " + " ".join(f"{n:>8d}" for n in NODES)
          + f" {'numpy':>9s} {'ratio':>8s}")
    batch_table(cells, args.quick)
    print("\nLive stream: one 256-bin sweep per call, M bins/s")
    print(f"{'kernel':16s} {'compiled':>9s} {'numpy':>9s} {'ratio':>9s}")
    live_table(500 if args.quick else 2000)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
