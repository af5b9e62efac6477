"""The two Python steps gw23 compiled, timed a call against their NumPy definitions (kept as
the tests' oracles): the tracker's start order of a batch of bursts with equal starts (the
emitters case's batches: ties broken by the later fields) and the speckled frame pieces of one
revisit sweep of the 2.4 GHz band (81 channels, two reads).

    .venv/bin/python bench/gw23_kernels.py

Prints the best of 5 repeats, µs a call (each speckle call with a copy of det).
"""
import timeit

import numpy as np

from straja._detect_hoppers import clear_speckled_pieces
from straja.detect import pipeline as pl
from straja.detect import tracks
from straja.detect.noise import codes_to_mw


def best_us(f, n: int) -> float:
    return min(timeit.repeat(f, number=n, repeat=5)) / n * 1e6


def main() -> None:
    b = np.zeros(3, tracks.BURST)
    b["t_start_us"], b["bin_lo"] = 5, [7, 3, 5]
    print(f"3 bursts, equal starts: np.sort "
          f"{best_us(lambda: np.sort(b, order='t_start_us', kind='stable'), 20000):.2f} µs, "
          f"in_start_order {best_us(lambda: tracks._tracks.in_start_order(b), 20000):.2f} µs")
    rng = np.random.default_rng(1)
    det = (rng.random((1, 81)) < 0.08).astype(np.uint8)
    reads = [rng.choice([90, 100, 130], size=(1, 81), p=[.6, .3, .1]).astype(np.uint8)
             for _ in range(2)]
    noise, alpha = codes_to_mw(np.full((1, 81), 100, np.uint8)), 1.2

    def numpy_pieces():
        d = det.copy()
        d[pl.speckled_frame_pieces(d != 0, [codes_to_mw(r) > alpha * noise for r in reads],
                                   2, 8)] = 0

    def compiled():
        clear_speckled_pieces(det.copy(), *reads, noise, alpha, 2, 8, pl.FRAME_MIN_HOT)
    print(f"one revisit sweep, {int(det.sum())} held cells: speckled_frame_pieces "
          f"{best_us(numpy_pieces, 3000):.2f} µs, clear_speckled_pieces "
          f"{best_us(compiled, 3000):.2f} µs")


if __name__ == "__main__":
    main()
