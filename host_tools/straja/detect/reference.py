"""Plain NumPy references of the compiled detection kernels (straja._cfar, straja._detect_*).

They favour obviousness over speed, and the tests hold the compiled kernels to them (test
oracles, not a speed yardstick: bench/bench_detect.py measures against SciPy).
"""
from __future__ import annotations

import numpy as np

from straja.detect.cfar import CFARDesign, CodeCFARDesign
from straja._detect_busy import HIT, band_edge
from straja._detect_noise import CAP_EVERY
from straja.detect.noise import codes_to_mw as compiled_codes_to_mw, floor_constants
from straja.detect.tracks import CLOCK_PERIODS_S, STAY_WITHIN, TrackerConfig


def _training(x: np.ndarray, offsets: np.ndarray):
    """(values, valid, m) of the training cells at `offsets` from every cell along axis 1 of
    x (n_lines, n): values (n_lines, n, len(offsets)), valid where inside the line, m of them."""
    n = x.shape[1]
    idx = np.arange(n)[:, None] + offsets[None, :]
    valid = (idx >= 0) & (idx < n)
    return x[:, np.clip(idx, 0, max(n - 1, 0))], valid, valid.sum(axis=1)


def _cfar_lines(x: np.ndarray, half1: np.ndarray, half2: np.ndarray, d: CFARDesign):
    """CFAR along axis 1 of x (n_lines, n): training cells at offsets half1 and half2."""
    vals, valid, m = _training(x, np.concatenate([half1, half2]))
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


def cfar_codes(codes: np.ndarray, d: CodeCFARDesign) -> np.ndarray:
    """Detections (bool) of the code-domain CFAR across frequency, as straja._cfar.CodeCFAR."""
    t, g = d.n_train, d.n_guard
    vals, valid, m = _training(codes.astype(np.int64),
                               np.concatenate([np.arange(-g - t, -g), np.arange(g + 1, g + t + 1)]))
    c = codes.astype(np.int64)
    if d.kind == "os":
        v = np.sort(np.where(valid, vals, 256), axis=-1)  # 256: above every code, never ranked
        rank = np.broadcast_to((d.k_os[m] - 1)[None, :, None], v.shape[:2] + (1,))
        stat = c - np.take_along_axis(v, rank, axis=-1)[..., 0]
    else:
        stat = m * c - np.where(valid, vals, 0).sum(axis=-1)
    return (m > 0) & (stat > d.thr[m])


def codes_to_mw(codes: np.ndarray) -> np.ndarray:
    """dBm = code / 2 - 140, to mW."""
    return (10.0 ** ((codes / 2.0 - 140.0) / 10.0)).astype(np.float32)


def envelope_to_mw(samples: np.ndarray, slope_udb: int, intercept_mdbm: int) -> np.ndarray:
    dbm = intercept_mdbm / 1000.0 + samples * (slope_udb / 1e6)
    return (10.0 ** (dbm / 10.0)).astype(np.float32)


def _lower_median(v: np.ndarray) -> float:
    return float(np.partition(v, (v.size + 1) // 2 - 1)[(v.size + 1) // 2 - 1])


def noise_floor(power: np.ndarray, quantile=0.5, rate=0.05, burst_db=10.0, max_excess_db=6.0):
    """Noise mean per sweep and bin, as straja.detect.noise.NoiseFloor from a fresh start."""
    up, down, burst_ratio, max_excess, to_mean = floor_constants(
        quantile, rate, burst_db, max_excess_db)
    out = np.full(power.shape, np.nan, np.float32)
    f, seen, cap = None, 0, np.inf
    for s, x in enumerate(power.astype(np.float64)):
        if f is None:
            readable = x[~np.isnan(x)]
            if readable.size == 0:
                continue
            f = np.full(x.shape, max(_lower_median(readable), 1e-30))
        with np.errstate(invalid="ignore"):
            step = ~np.isnan(x) & ~(x > f * burst_ratio)
            f = np.where(step, np.where(x > f, f * up, f * down), f)
        if seen % CAP_EVERY == 0:
            cap = _lower_median(f) * max_excess
        f = np.maximum(np.minimum(f, cap), 1e-30)
        out[s] = f * to_mean
        seen += 1
    return out


def busy_mask(single_codes, power, noise_mw, det, width, alpha, min_single, held_ratio, memory,
              warm, band_db, n_bands, margin_bands, level_ratio):
    """(det with bursty cells cleared, mask bool) of a whole stream from a fresh start, as
    straja._detect_busy.BusyCells(n_bins, width, alpha, min_single, held_ratio, memory, warm,
    band_db, n_bands, margin_bands, level_ratio) given the held reads' power.

    Single-read and held occupancies: EWMAs of rate 1/memory in fixed point (a hot read adds
    HIT), their bias that of a read always hot (weight); box sums over `width` cells as
    np.convolve(..., "same"). The same per level band (the read's power over the noise mean
    against band_edge(k)); a held hit in a bursty cell is kept when its window's reads from
    margin_bands below its band up hold (at level_ratio). The codes go through the compiled table: this holds
    the mask to its rules, codes_to_mw is tested on its own."""
    shift = int(memory).bit_length() - 1
    n = det.shape[1]
    single_mw = compiled_codes_to_mw(single_codes).astype(np.float64)
    power64 = power.astype(np.float64)
    noise64 = noise_mw.astype(np.float64)
    edges = np.array([band_edge(k, band_db) for k in range(n_bands)])
    single, held = np.zeros(n, np.int64), np.zeros(n, np.int64)
    single_band, held_band = np.zeros((n, n_bands), np.int64), np.zeros((n, n_bands), np.int64)
    weight = 0
    det, mask = det.copy(), np.zeros(det.shape, bool)
    box = np.ones(width, np.int64)
    pad = np.zeros(max(0, width - n), np.int64)  # "same" is as long as the longer input

    def bands(mw, noise):  # the highest band whose edge the read reaches, else 0
        reached = mw[:, None] >= edges[None, :] * noise[:, None]
        reached[:, 0] = True
        return n_bands - 1 - np.argmax(reached[:, ::-1], axis=1)

    for s in range(det.shape[0]):
        hot = single_mw[s] > alpha * noise64[s]
        single += np.where(hot, HIT, 0) - (single >> shift)
        held += np.where(det[s] != 0, HIT, 0) - (held >> shift)
        single_band -= single_band >> shift
        held_band -= held_band >> shift
        cells = np.arange(n)
        single_band[cells[hot], bands(single_mw[s], noise64[s])[hot]] += HIT
        held_hit = det[s] != 0
        held_level = bands(power64[s], noise64[s])
        held_band[cells[held_hit], held_level[held_hit]] += HIT
        weight += HIT - (weight >> shift)
        if s + 1 < warm:
            mask[s] = True
        else:
            s_sum = np.convolve(np.concatenate([single, pad]), box, "same")[:n].astype(np.float64)
            h_sum = np.convolve(np.concatenate([held, pad]), box, "same")[:n].astype(np.float64)
            mask[s] = (s_sum >= min_single * float(width * weight)) & (h_sum < held_ratio * s_sum)
            for b in np.flatnonzero(mask[s] & held_hit):
                window = slice(max(0, b - width // 2), b + width - width // 2)
                lo = max(0, held_level[b] - margin_bands)
                s_l = float(single_band[window, lo:].sum())
                h_l = float(held_band[window, lo:].sum())
                mask[s, b] = not (s_l > 0 and h_l >= level_ratio * s_l)
        det[s][mask[s]] = 0
    return det, mask


def _runs(row: np.ndarray, gap: int, cut=None):
    """(first, last) of detected runs, runs closer than gap + 1 bins merged unless `cut` marks
    the later bin as a run's start."""
    runs = []
    for i in np.flatnonzero(row):
        if runs and i - runs[-1][1] <= gap + 1 and not (cut is not None and cut[i]):
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return runs


def bursts(det, power, t_us, duration_us, max_gap_bins=1, max_gap_sweeps=0, max_sweeps=0,
           cut=None):
    """All bursts of a whole stream (flushed at its end), as straja.detect.bursts, as dicts
    with the kernel's fields (without frequency), in the order they close."""
    opened, done = [], []

    def close(b):
        b["mean_mw"] = np.float32(b.pop("sum") / b["n_cells"])
        n_mid, sum_mid = b.pop("n_mid"), b.pop("sum_mid")
        b["centre_mw"] = np.float32(sum_mid / n_mid) if n_mid else b["mean_mw"]
        b["n_sweeps"] = b.pop("last") - b.pop("first") + 1
        for key in ("prev", "cur", "idle"):
            b.pop(key)
        done.append(b)

    for s in range(det.shape[0]):
        t0, t1 = int(t_us[s]), int(t_us[s] + duration_us[s])
        for b in opened:
            b["cur"] = None
        for a, z in _runs(det[s], max_gap_bins, None if cut is None else cut[s]):
            touching = [b for b in opened if b["prev"] is not None
                        and b["prev"][0] - max_gap_bins <= z and a <= b["prev"][1] + max_gap_bins]
            if not touching:
                touching = [dict(t_start_us=t0, bin_lo=a, bin_hi=z, n_cells=0, sum=0.0, sum_mid=0.0, n_mid=0,
                                 peak_mw=None, peak_bin=-1, first=s, prev=None, cur=None, idle=0)]
                opened.append(touching[0])
            keep = touching[0]
            for other in touching[1:]:
                opened.remove(other)
                keep["t_start_us"] = min(keep["t_start_us"], other["t_start_us"])
                keep["first"] = min(keep["first"], other["first"])
                keep["bin_lo"] = min(keep["bin_lo"], other["bin_lo"])
                keep["bin_hi"] = max(keep["bin_hi"], other["bin_hi"])
                keep["n_cells"] += other["n_cells"]
                for key in ("sum", "sum_mid", "n_mid"):
                    keep[key] += other[key]
                if other["peak_mw"] is not None and not (other["peak_mw"] <= keep["peak_mw"]):
                    keep["peak_mw"], keep["peak_bin"] = other["peak_mw"], other["peak_bin"]
                keep["prev"] = (min(keep["prev"][0], other["prev"][0]),
                                max(keep["prev"][1], other["prev"][1]))
                if other["cur"] is not None:
                    keep["cur"] = other["cur"] if keep["cur"] is None else (
                        min(keep["cur"][0], other["cur"][0]), max(keep["cur"][1], other["cur"][1]))
                keep["idle"] = min(keep["idle"], other["idle"])
            keep["cur"] = (a, z) if keep["cur"] is None else (min(keep["cur"][0], a),
                                                              max(keep["cur"][1], z))
            keep["t_end_us"], keep["last"] = t1, s
            keep["bin_lo"], keep["bin_hi"] = min(keep["bin_lo"], a), max(keep["bin_hi"], z)
            third = (z - a + 1) // 3
            for j in range(a, z + 1):
                if det[s, j]:
                    v = float(power[s, j])
                    keep["n_cells"] += 1
                    keep["sum"] += v
                    if a + third <= j <= z - third:
                        keep["n_mid"] += 1
                        keep["sum_mid"] += v
                    if keep["peak_mw"] is None or not v <= keep["peak_mw"]:
                        keep["peak_mw"], keep["peak_bin"] = v, j
        for b in list(opened):
            if b["cur"] is not None:
                b["prev"], b["idle"] = b["cur"], 0
            else:
                b["idle"] += 1
            if b["idle"] > max_gap_sweeps or (max_sweeps and b["last"] - b["first"] + 1 >= max_sweeps):
                opened.remove(b)
                close(b)
    for b in opened:
        close(b)
    return done


def pulses(x, t0_us, rate_hz, first_block=None, on_db=10.0, off_db=7.0, rate=0.01,
           quantile=0.5):
    """Pulses of one envelope stream, as straja.detect.bursts.PulseExtractor (dicts).

    The floor starts at the median of the first block with a readable sample; first_block is
    that block (default: all of x); samples before it are skipped, as the kernel does.
    """
    on, off = 10 ** (on_db / 10), 10 ** (off_db / 10)
    up, down = np.exp(rate * quantile), np.exp(-rate * (1 - quantile))
    first_block = x if first_block is None else first_block
    readable = first_block[~np.isnan(first_block)]
    if readable.size == 0:
        return []
    floor = max(_lower_median(readable.astype(np.float64)), 1e-30)
    out, cur, last_start = [], None, np.nan
    for i, v in enumerate(x.astype(np.float64)):
        if np.isnan(v):
            continue
        t = t0_us + i * (1e6 / rate_hz)
        if cur is not None:
            if v < floor * off:
                out.append(dict(t_start_us=cur[0], width_us=t - cur[0], pri_us=cur[0] - last_start,
                                peak_mw=np.float32(max(cur[1])), mean_mw=np.float32(sum(cur[1]) / len(cur[1]))))
                last_start, cur = cur[0], None
            else:
                cur[1].append(v)
        if cur is None:
            if v > floor * on:
                cur = (t, [v])
            else:
                floor = max(floor * up if v > floor else floor * down, 1e-30)
    return out


def track_events(bursts, t_now_us, config: TrackerConfig, age_at=None, revisit_us=0.0,
                 read_at=()):
    """(events, live tracks) of a fresh straja.detect.tracks.Tracker fed `bursts` in one call:
    events as (t_us, track_id, from, to) tuples, tracks as dicts of TRACK's fields.
    age_at=(k, t): the tracks are also aged to t after the first k bursts (a call boundary);
    revisit_us: the scanner's sweep period set on the tracker (Tracker.revisit_us); read_at:
    each channel's read share of its sweep (Tracker.read_at)."""
    c = config
    periods_us = CLOCK_PERIODS_S * 1e6
    live, events, next_id = [], [], 1

    def age(t):
        for tr in list(live):
            quiet = t - tr["t_last_end_us"]
            if tr["state"] == 0 and quiet > c.candidate_timeout_us:
                events.append((t, tr["track_id"], 0, 3))
                live.remove(tr)
                continue
            if tr["state"] == 1 and quiet > c.lost_after_us:
                events.append((t, tr["track_id"], 1, 2))
                tr["state"] = 2
            if tr["state"] == 2 and quiet > c.drop_after_us:
                events.append((t, tr["track_id"], 2, 3))
                live.remove(tr)

    def accepts(tr, b):
        bw_t, bw = tr["bw_sum_khz"] / tr["n_bursts"], b["bandwidth_khz"]
        allowed = c.candidate_timeout_us if tr["state"] == 0 else c.drop_after_us
        if b["t_start_us"] - tr["t_last_end_us"] > allowed or max(bw / bw_t, bw_t / bw) > c.bw_ratio:
            return False
        if bw <= c.narrow_khz and bw_t <= c.narrow_khz:
            span = max(b["centre_khz"], tr["f_max_khz"]) - min(b["centre_khz"], tr["f_min_khz"])
            return span <= c.hop_span_khz
        half = 0.5 * bw_t
        if (b["t_start_us"] == tr["t_last_start_us"]
                or not tr["f_min_khz"] - half <= b["centre_khz"] <= tr["f_max_khz"] + half):
            return False
        if (b["t_start_us"] - tr["t_last_end_us"] > c.lost_after_us or not b["peak_mw"] > 0
                or np.isnan(tr["level_db"])):
            return True  # after an off period, or no level to compare
        limit = c.level_step_db
        if tr["n_bursts"] > 1:
            limit = max(limit, c.level_step_sds * np.sqrt(tr["level_jump_sq_db2"]
                                                          / (2 * (tr["n_bursts"] - 1))))
        return abs(10 * np.log10(float(b["peak_mw"])) - tr["level_db"]) <= limit

    def add(tr, b):
        fc = float(b["centre_khz"])
        # the wide burst that ends an off period: no level (nor change), no span of centres
        back = tr["n_bursts"] > 0 and b["t_start_us"] - tr["t_last_end_us"] > c.lost_after_us
        wide = not (b["bandwidth_khz"] <= c.narrow_khz
                    and tr["bw_sum_khz"] <= c.narrow_khz * tr["n_bursts"])
        if tr["n_bursts"]:
            ivl = float(b["t_start_us"] - tr["t_last_start_us"])
            if ivl > c.lost_after_us and tr["n_bursts"] > 1:
                # an off period (the track was lost), not a gap between bursts: the mean so far
                ivl = tr["ivl_sum_us"] / (tr["n_bursts"] - 1)
            tr["ivl_sum_us"] += ivl
            tr["ivl_sq_us2"] += ivl * ivl
            # a stay: on the previous channel, for a scanner in the next sweep (not a return)
            hop = (abs(fc - tr["f_last_khz"]) >= 0.5 * c.channel_khz
                   or (revisit_us > 0 and not (b["t_start_us"] - tr["t_last_start_us"]
                                               < STAY_WITHIN * revisit_us)))
            tr["n_hops"] += hop
            # a run on one channel, other channels' bursts between: once it spans more than
            # link_run_max_us, every stay of it is a long stay (a fixed device's packet), those
            # before too
            t = int(b["t_start_us"])
            on_channel = abs(fc - tr["run_khz"]) < 0.5 * c.channel_khz
            going = (t - tr["run"][-1] < STAY_WITHIN * revisit_us if revisit_us > 0 else on_channel)
            if not going:
                tr["run_khz"], tr["run"], tr["run_stays"] = fc, [t], 0
            elif on_channel:
                was_long = tr["run"][-1] - tr["run"][0] > c.link_run_max_us
                tr["run"].append(t)
                if not hop:
                    tr["run_stays"] += 1
                    if t - tr["run"][0] > c.link_run_max_us:
                        tr["n_long_stays"] += 1 if was_long else tr["run_stays"]
        ch = int(np.floor((fc - tr["f_first_khz"]) / c.channel_khz + 0.5))
        if -256 <= ch < 256:
            tr["channels"].add(ch)
        tr["n_channels"] = len(tr["channels"])
        tr["n_bursts"] += 1
        tr["t_last_start_us"] = int(b["t_start_us"])
        tr["t_last_end_us"] = max(tr.get("t_last_end_us", b["t_end_us"]), int(b["t_end_us"]))
        tr["f_last_khz"] = fc
        if not (back and wide):
            tr["f_min_khz"], tr["f_max_khz"] = min(tr["f_min_khz"], fc), max(tr["f_max_khz"], fc)
            # the second-lowest and second-highest of every centre counted (+-inf under two)
            tr["centres"].append(fc)
            ranked = sorted(tr["centres"])
            tr["f_min2_khz"], tr["f_max2_khz"] = ((ranked[1], ranked[-2]) if len(ranked) > 1
                                                  else (np.inf, -np.inf))
        # the packet clock: the burst's read time's phase at each period (straja._tracks)
        read_us = float(b["t_start_us"])
        if 0 <= b["peak_bin"] < len(read_at):
            read_us += (read_at[b["peak_bin"]] * float(b["t_end_us"] - b["t_start_us"])
                        / max(int(b["n_sweeps"]), 1))
        phase = 2 * np.pi * np.fmod(read_us, periods_us) / periods_us
        tr["clock_cos"] += np.cos(phase)
        tr["clock_sin"] += np.sin(phase)
        tr["bw_sum_khz"] += float(b["bandwidth_khz"])
        tr["dwell_sum_us"] += float(b["t_end_us"] - b["t_start_us"])
        tr["peak_mw"] = max(tr["peak_mw"], float(b["peak_mw"]))
        tr["mean_sum_mw"] += float(b["mean_mw"])
        if b["mean_mw"] > 0 and b["centre_mw"] > 0:
            tr["centre_db_sum"] += 10 * np.log10(float(b["centre_mw"]) / float(b["mean_mw"]))
        if back and wide:
            tr["level_db"] = np.nan
        elif b["peak_mw"] > 0:
            level_db = 10 * np.log10(float(b["peak_mw"]))
            if not np.isnan(tr["level_db"]):
                tr["level_jump_sq_db2"] += (level_db - tr["level_db"]) ** 2
            tr["level_db"] = level_db

    for k, b in enumerate(np.sort(bursts, order="t_start_us", kind="stable")):
        if age_at is not None and k == age_at[0]:
            age(age_at[1])
        age(int(b["t_start_us"]))
        ok = [tr for tr in live if accepts(tr, b)]
        if ok:
            d = [abs(b["centre_khz"] - tr["f_last_khz"]) for tr in ok]
            # ties: for a wide burst the steadier track (a merged run is surely the steady
            # emitter's; inf: under 2 bursts, not known steady), then the most recent
            sd = [0.0 if b["bandwidth_khz"] <= c.narrow_khz
                  else np.inf if tr["n_bursts"] < 2
                  else np.sqrt(tr["level_jump_sq_db2"] / (2 * (tr["n_bursts"] - 1))) for tr in ok]
            best = min(range(len(ok)), key=lambda i: (d[i], sd[i], -ok[i]["t_last_end_us"]))
            tr = ok[best]
        elif len(live) == c.max_tracks:
            continue
        else:
            fc = float(b["centre_khz"])
            tr = dict(track_id=next_id, state=0, n_bursts=0, n_hops=0, n_long_stays=0,
                      run=[int(b["t_start_us"])], run_khz=fc, run_stays=0, channels=set(),
                      centres=[],
                      t_first_us=int(b["t_start_us"]), f_first_khz=fc, f_min_khz=fc,
                      f_max_khz=fc, bw_sum_khz=0.0, dwell_sum_us=0.0, ivl_sum_us=0.0,
                      ivl_sq_us2=0.0, peak_mw=0.0, mean_sum_mw=0.0, centre_db_sum=0.0,
                      level_db=np.nan, level_jump_sq_db2=0.0,
                      clock_cos=np.zeros(periods_us.size), clock_sin=np.zeros(periods_us.size))
            next_id += 1
            live.append(tr)
            events.append((int(b["t_start_us"]), tr["track_id"], -1, 0))
        add(tr, b)
        if tr["state"] == 0 and tr["n_bursts"] >= c.confirm_bursts:
            tr["state"] = 1
            events.append((int(b["t_start_us"]), tr["track_id"], 0, 1))
        elif tr["state"] == 2:
            tr["state"] = 1
            events.append((int(b["t_start_us"]), tr["track_id"], 2, 1))
    if age_at is not None and age_at[0] >= len(bursts):
        age(age_at[1])
    age(t_now_us)
    return events, live


def range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """straja.detect.tracks.range_max: the largest of values[lo:hi + 1] (0 if empty or lower) of
    each range."""
    return np.array([values[a:b + 1].max(initial=0.0) for a, b in zip(lo.tolist(), hi.tolist())])


class SteadinessSplit:
    """straja._detect_split.SteadinessSplit in NumPy, whole arrays a sweep (float64 state):
    hot streaks, mean hot readings, jitter, history and held cuts per bin, and the cuts they call for
    (docs/detection.md, "Steadiness split")."""

    def __init__(self, n_bins, ratio, min_sweeps, jitter_db, rate, streak_cap, history_sweeps,
                 history_min, dip, stand):
        self.ratio, self.min_sweeps, self.jitter_db, self.rate = ratio, min_sweeps, jitter_db, rate
        self.dip, self.stand = dip, stand
        self.standing = np.zeros(n_bins, np.int32)
        self.up = np.zeros(n_bins)
        self.up_before = np.full(n_bins, np.nan)
        self.stood = np.zeros(n_bins, np.uint64)
        self.streak_cap, self.history_sweeps, self.history_min = streak_cap, history_sweeps, history_min
        self.streak = np.zeros(n_bins, np.int32)
        self.streak_sq = np.zeros(n_bins)
        self.hot_mw = np.zeros(n_bins)
        self.last_db = np.zeros(n_bins)
        self.jitter = np.full(n_bins, np.nan)
        self.busy = np.zeros(n_bins)
        self.busy_before = np.full(n_bins, np.nan)
        self.cut_share = np.zeros(n_bins)
        self.held = np.zeros(n_bins, np.uint8)
        self.sweeps = 0

    def cuts(self, det, power, noise, cut, gap):
        cut[:] = 0
        fresh = 1.0 / self.history_sweeps
        for s in range(det.shape[0]):
            hot = det[s] != 0
            idx = np.flatnonzero(hot)
            p = power[s, idx].astype(np.float64)
            db = 10 * np.log10(np.maximum(p, 1e-30))
            running = self.streak[idx] > 0
            change = np.abs(db - self.last_db[idx])
            j = self.jitter[idx]
            self.jitter[idx] = np.where(running, np.where(np.isnan(j), change,
                                                          j + self.rate * (change - j)), j)
            self.streak_sq[idx] = np.where(running, self.streak_sq[idx] + change ** 2, 0.0)
            begun = idx[~running]
            known = 1.0 - (1.0 - fresh) ** self.sweeps
            with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0: no sweep yet, NaN
                self.busy_before[begun] = (self.busy[begun] / known
                                           if self.sweeps >= self.history_min else np.nan)
            self.last_db[idx] = db
            self.busy *= 1.0 - fresh
            self.busy[idx] += fresh
            self.streak = np.minimum((self.streak + 1) * hot, self.streak_cap).astype(np.int32)
            floor = 0.0 if noise is None else np.sort(noise[s].astype(np.float64))[
                (len(self.hot_mw) - 1) // 2]
            stands = hot & (power[s].astype(np.float64) >= self.stand * floor)
            with np.errstate(invalid="ignore", divide="ignore"):
                begins = stands & (self.standing == 0)
                self.up_before[begins] = (self.up[begins] / known
                                          if self.sweeps >= self.history_min else np.nan)
            self.standing = np.minimum((self.standing + 1) * stands,
                                       self.streak_cap).astype(np.int32)
            self.up = np.where(stands, self.up * (1.0 - fresh) + fresh, self.up * (1.0 - fresh))
            self.stood = (self.stood << np.uint64(1)) | stands.astype(np.uint64)
            h = self.hot_mw[idx]
            self.hot_mw[idx] = np.where(h > 0, h + self.rate * (p - h), p)
            self.sweeps += 1
            a, b = idx[:-1], idx[1:]
            sa, sb, ha, hb = self.streak[a], self.streak[b], self.hot_mw[a], self.hot_mw[b]
            near = b - a <= gap + 1
            longer = np.maximum(sa, sb)
            # a newcomer two bins wide (its other hot neighbour began with it) is no skirt
            wide_b = np.append((idx[2:] - b[:-1] <= gap + 1)
                               & (self.streak[idx[2:]] == sb[:-1]), False)
            wide_a = np.insert((a[1:] - idx[:-2] <= gap + 1)
                               & (self.streak[idx[:-2]] == sa[1:]), 0, False)
            newcomer_ok = np.where(sa < sb, (ha >= hb) | wide_a, (hb >= ha) | wide_b)
            newcomer_ok |= sa == sb
            by_streak = ((longer >= self.ratio * np.minimum(sa, sb)) & (longer >= self.min_sweeps)
                         & newcomer_ok)
            ja, jb = self.jitter[a], self.jitter[b]
            both_known = ~np.isnan(ja) & ~np.isnan(jb)
            with np.errstate(invalid="ignore"):
                by_jitter = (both_known & (np.fmax(ja, jb) >= self.jitter_db)
                             & (np.fmax(ja, jb) >= self.ratio * np.fmin(ja, jb))
                             & np.where(ja > jb, ha >= hb, hb >= ha))
                kept = both_known & (self.held[b] == 1) & (np.fmax(ja, jb) < self.jitter_db)
            at = near & (by_streak | by_jitter | kept)
            cut[s, b[near & self._dips(idx, floor, gap)]] = 1
            cut[s, b[at]] = 1
            self.held[:] = 0
            self.held[b[at]] = 1
            beside = np.zeros(len(self.busy), bool)
            beside[a[at]] = beside[b[at]] = True
            self.cut_share = self.cut_share * (1.0 - fresh) + np.where(beside, fresh, 0.0)
        return cut

    def _dips(self, idx, floor, gap):
        """Per pair of consecutive hot bins idx[k], idx[k + 1]: whether a dip lies between them
        (a cold bin between, or either a hot dip joining its stronger other neighbour), their
        signals over the band's `floor`."""
        sig = self.hot_mw - floor
        with np.errstate(invalid="ignore"):
            steady = (self.jitter < self.jitter_db) & (self.streak >= self.min_sweeps)

        def dip(m, a, b):  # arrays of bins
            sm = self.dip * sig[m]
            return ((sig[a] > 0) & (sig[b] > 0) & (sig[a] >= sm) & (sig[b] >= sm)
                    & steady[a] & steady[b])

        a, b = idx[:-1], idx[1:]
        out = np.zeros(len(a), bool)
        for k in range(1, gap + 1):  # the cold bins between
            out |= (a + k < b) & dip(np.minimum(a + k, len(sig) - 1), a, b)
        beside = b - a == 1
        hot_dip = np.zeros(len(idx), bool)  # idx[j] between idx[j - 1] and idx[j + 1], all hot
        hot_dip[1:-1] = beside[:-1] & beside[1:] & dip(idx[1:-1], idx[:-2], idx[2:])
        out[:-1] |= hot_dip[1:-1] & (sig[idx[2:]] > sig[idx[:-2]])
        out[1:] |= hot_dip[1:-1] & (sig[idx[:-2]] >= sig[idx[2:]])
        return out

    def quiet(self, n_sweeps):
        self.streak[:] = 0
        self.standing[:] = 0
        self.stood = (self.stood << np.uint64(n_sweeps) if n_sweeps < 64
                      else np.zeros_like(self.stood))
        self.up *= (1.0 - 1.0 / self.history_sweeps) ** n_sweeps
        self.held[:] = 0
        self.busy *= (1.0 - 1.0 / self.history_sweeps) ** n_sweeps
        self.cut_share *= (1.0 - 1.0 / self.history_sweeps) ** n_sweeps
        self.sweeps += n_sweeps
