"""What a 2.4 GHz control link adds to a busy site's reads (docs/measured/det25.md): a scene run through the gateway (`straja.eval.scenes.run_scene`, its seed, all nodes,
from switch-on to --until), with each band hopper stage's reads recorded; per stage (a node's
2.4 GHz revisit plan, in the order made), from --after s on:

- narrow hits a look (the band hopper's hits, BLE advertising cells left out) in 5 dB bands of
  their level over the noise mean, the held ones (hot in both reads) apart;
- the bursty-neighbourhood mask (pipeline.BUSY_*, the NumPy reference `reference.busy_mask`,
  held reads over the floor detector's threshold standing for the detections): the share of
  cells masked and the held cells a sweep masked and kept; with --frames-only, the mask with
  isolated narrow hits (at most a hop wide, fewer than FRAME_MIN_HOT other hot cells within
  FRAME_REACH_KHZ) left out of its single-read occupancy (the alternative measured there).

--without NAME runs the scene a second time with that emitter off (every other draw the same)
and prints the difference: what the emitter adds.

    .venv/bin/python bench/band_levels.py SCENE [--until S] [--after S] [--without NAME]
        [--frames-only]

Not run by run_all.py (not a bench_*.py): a tool for changes to the band hopper.
"""
import argparse

import numpy as np

from straja.argtypes import non_negative_float
from straja.detect import hoppers, reference
from straja.detect.pipeline import FRAME_MIN_HOT, FRAME_REACH_KHZ, busy_cells
from straja.eval.scenes import run_scene
from straja.sim.scene import SceneError, load_scene
from straja.sim.trajectory import Schedule

BAND_DB = 5.0
N_BANDS = 9  # 0-45 dB over the noise mean


def record(scene, until_s: float) -> list[dict]:
    """Each band hopper stage's reads (mW: first, second or None, held; noise; sweep starts and
    durations)."""
    stages: dict[int, dict] = {}
    process = hoppers.BandHoppers.process

    def recording(self, reads_mw, held_mw, noise_mw, t_us, duration_us):
        st = stages.setdefault(id(self), {"stage": self, "reads": [], "held": [],
                                          "noise": [], "t_us": [], "duration_us": []})
        st["reads"].append(np.array(reads_mw))
        st["held"].append(np.array(held_mw))
        st["noise"].append(np.array(noise_mw))
        st["t_us"].append(np.array(t_us))
        st["duration_us"].append(np.array(duration_us))
        return process(self, reads_mw, held_mw, noise_mw, t_us, duration_us)

    hoppers.BandHoppers.process = recording
    try:
        run_scene(scene, t_end_s=until_s)
    finally:
        hoppers.BandHoppers.process = process
    return [{"stage": st["stage"], "reads": np.concatenate(st["reads"], axis=1),
             "held": np.concatenate(st["held"]), "noise": np.concatenate(st["noise"]),
             "t_s": np.concatenate(st["t_us"]) / 1e6,
             "duration_us": np.concatenate(st["duration_us"])} for st in stages.values()]


def isolated(single: np.ndarray, threshold: np.ndarray, max_width: int, reach: int) -> np.ndarray:
    """The cells of one read's narrow hits (runs at most max_width wide) with fewer than
    FRAME_MIN_HOT other hot cells within reach cells either side (a cell either side of the run
    left out, as speckled_frame_pieces counts): a hop's or a Bluetooth packet's, not a frame's."""
    hot = single > threshold
    padded = np.concatenate([[0], hot.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    total = np.concatenate([[0], np.cumsum(hot)])
    n = hot.size
    out = np.zeros(n, bool)
    for a, b in zip(edges[0::2], edges[1::2]):
        if b - a > max_width:
            continue
        near = total[min(n, b + 1 + reach)] - total[max(0, a - 1 - reach)]
        if near - (total[min(n, b + 1)] - total[max(0, a - 1)]) < FRAME_MIN_HOT:
            out[a:b] = True
    return out


def summary(st: dict, after_s: float, frames_only: bool) -> np.ndarray:
    """[narrow hits a look by level band, held ones by level band, masked share, held cells a
    sweep masked, kept] of one stage from after_s on."""
    stage, reads, noise = st["stage"], st["reads"], st["noise"]
    threshold = stage.alpha * noise
    late = st["t_s"] >= after_s
    hits, held_hits = np.zeros(N_BANDS), np.zeros(N_BANDS)
    for k in np.flatnonzero(late):
        for r in range(reads.shape[0]):
            cells = hoppers.narrow_hits(reads[r, k], threshold[k], stage.max_width)
            cells = cells[~stage.ble_adv[cells]]
            held = st["held"][k][cells] > threshold[k][cells]
            if r:  # a held channel is one hit, the first read's
                cells, held = cells[~held], held[~held]
            band = np.floor(10 * np.log10(reads[r, k][cells] / noise[k][cells]) / BAND_DB)
            band = np.clip(band.astype(int), 0, N_BANDS - 1)
            np.add.at(hits, band, 1)
            np.add.at(held_hits, band[held], 1)
    first = reads[0].copy()
    if frames_only:
        step = float(stage.freq_khz[1] - stage.freq_khz[0])
        reach = max(1, round(FRAME_REACH_KHZ / step))
        for k in range(first.shape[0]):
            first[k][isolated(first[k], threshold[k], stage.max_width, reach)] = 0.0
    with np.errstate(divide="ignore"):
        codes = np.clip(np.round((10 * np.log10(first) + 140) * 2), 0, 255).astype(np.uint8)
    det = (st["held"] > threshold).astype(np.uint8)
    settings = busy_cells(stage.n_bins, float(stage.freq_khz[1] - stage.freq_khz[0]),
                          stage.alpha).settings
    _, mask = reference.busy_mask(codes, st["held"], noise, det, *settings)
    looks = max(1, int(np.count_nonzero(late)) * reads.shape[0])
    sweeps = max(1, int(np.count_nonzero(late)))
    held_late = det[late].astype(bool)
    return np.concatenate([hits / looks, held_hits / looks,
                           [mask[late].mean() if late.any() else 0.0,
                            np.count_nonzero(held_late & mask[late]) / sweeps,
                            np.count_nonzero(held_late & ~mask[late]) / sweeps]])


def rows(path: str, until_s: float, after_s: float, without: str | None,
         frames_only: bool) -> list[tuple[str, np.ndarray]]:
    """(label, summary) per stage: the scene's, and with --without the scene with that emitter
    off and the difference (stages paired in the order made: a plan made after an alert of the
    emitter's has no pair)."""
    scene = load_scene(path)
    until_s = min(until_s, scene.duration_s)
    out = [(f"stage {i}", summary(st, after_s, frames_only))
           for i, st in enumerate(record(scene, until_s))]
    if without is None:
        return out
    scene = load_scene(path)
    # switched on only after the run: the scene's every draw the same (removing the emitter
    # from the list would move the others')
    scene.emitter(without).schedule = Schedule([(until_s + 1.0, until_s + 2.0)])
    base = [summary(st, after_s, frames_only) for st in record(scene, until_s)]
    out += [(f"stage {i} without", b) for i, b in enumerate(base)]
    out += [(f"stage {i} difference", s - b) for i, ((_, s), b) in enumerate(zip(out, base))]
    return out


def scene_parser(doc: str) -> argparse.ArgumentParser:
    """A replay tool's parser (this one's, hopper_cycle.py's): the scene and --until."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("scene")
    ap.add_argument("--until", type=non_negative_float, default=60.0, help="s of scene run")
    return ap


def main() -> None:
    ap = scene_parser(__doc__)
    ap.add_argument("--after", type=non_negative_float, default=20.0,
                    help="figures from this time on (s)")
    ap.add_argument("--without", metavar="NAME", help="an emitter to run the scene without")
    ap.add_argument("--frames-only", action="store_true",
                    help="the mask's single-read occupancy without isolated narrow hits")
    args = ap.parse_args()
    try:  # a scene that does not load, or an emitter it does not have: a message, exit 2
        scene = load_scene(args.scene)
        if args.without is not None:
            scene.emitter(args.without)
    except (SceneError, KeyError) as e:
        ap.error(str(e).strip('"'))
    bands = " ".join(f"{BAND_DB * b:>4.0f}+" for b in range(N_BANDS))
    print(f"{'':22s} narrow hits a look by dB over the noise: {bands} | held hits the same | "
          "masked share, held cells a sweep masked / kept")
    for label, s in rows(args.scene, args.until, args.after, args.without, args.frames_only):
        print(f"{label:22s} {' '.join(f'{x:5.2f}' for x in s[:N_BANDS])} | "
              f"{' '.join(f'{x:5.2f}' for x in s[N_BANDS:2 * N_BANDS])} | "
              f"{s[-3]:.2f}, {s[-2]:.2f} / {s[-1]:.2f}", flush=True)


if __name__ == "__main__":
    main()
