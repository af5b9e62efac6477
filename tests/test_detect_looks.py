"""Multi-look CFAR design: special functions, and measured false-alarm rates on Gamma(L) noise
(continuous and quantised to the protocol's 0.5 dB RSSI codes) against the design."""
from math import erfc, exp, sqrt

import numpy as np
import pytest

from straja.detect import cfar, noise
from straja.detect.stats import betainc, effective_looks, f_survival, gammaincc

SIGMAS = 4.5  # binomial standard deviations allowed (a chance failure ~1 in 10^5 per check)


def test_special_functions_known_values():
    # I_0.4(2, 3) = sum_{j=2..4} C(4, j) 0.4^j 0.6^(4-j)
    assert betainc(2, 3, 0.4) == pytest.approx(0.5248, rel=1e-12)
    assert betainc(16, 1, 16 / 19) == pytest.approx((1 + 3 / 16) ** -16, rel=1e-12)
    assert betainc(0.5, 0.5, 0.5) == pytest.approx(0.5, rel=1e-12)  # symmetric
    assert betainc(300, 20, 0.9) + betainc(20, 300, 0.1) == pytest.approx(1.0, rel=1e-12)
    assert gammaincc(3, 2.0) == pytest.approx(5 * exp(-2), rel=1e-12)  # e^-x (1 + x + x^2/2)
    assert gammaincc(0.5, 1.0) == pytest.approx(erfc(1.0), rel=1e-12)
    assert gammaincc(50, 80.0) == pytest.approx(1.0 - (1.0 - gammaincc(50, 80.0)), rel=1e-12)
    # F(2, 2m) with m -> large is chi2(2)/2: P(F > x) -> e^-x
    assert f_survival(3.0, 2, 2e6) == pytest.approx(exp(-3.0), rel=1e-5)


def test_single_look_design_is_the_exponential_one():
    for n in (4, 16):
        a = cfar.alpha_for_pfa("ca", 1e-4, n)
        assert cfar.pfa_ca(a, n, looks=1.0 + 1e-12) == pytest.approx(1e-4, rel=1e-6)
    assert noise.floor_alpha(1e-3) == pytest.approx(-np.log(1e-3))


def test_multi_look_needs_ca():
    with pytest.raises(ValueError, match="single-look"):
        cfar.design("go", 1e-3, 8, 1, looks=20)


def _measured(det: np.ndarray, pfa: float) -> tuple[float, float]:
    n = det.size
    return float(det.sum()), SIGMAS * sqrt(n * pfa * (1 - pfa))


def _codes(power: np.ndarray, rng) -> np.ndarray:
    """Readings quantised as a chip does: 0.5 dB codes, the floor at a random offset per sweep."""
    dbm = 10 * np.log10(power) - 90 + rng.uniform(0, 0.5, (power.shape[0], 1))
    return np.round(2 * (dbm + 140)).astype(np.uint8)


@pytest.mark.parametrize("looks", [20, 200])
def test_ca_false_alarm_rate_on_gamma_noise(looks):
    rng = np.random.default_rng(looks)
    pfa = 1e-3
    x = rng.gamma(looks, 1 / looks, (4000, 256)).astype(np.float32)
    d = cfar.design("ca", pfa, 8, 1, looks=looks)
    alarms, tol = _measured(cfar.cfar_freq(x, d), pfa)
    assert abs(alarms - x.size * pfa) <= tol
    # the single-look design on the same readings: many dB too high, (almost) never fires
    assert cfar.cfar_freq(x, cfar.design("ca", pfa, 8, 1)).sum() < x.size * pfa / 100
    # quantised to 0.5 dB codes: the effective-looks design keeps the rate
    p = noise.codes_to_mw(_codes(x, rng))
    dq = cfar.design("ca", pfa, 8, 1, looks=looks, code_db=0.5)
    alarms, tol = _measured(cfar.cfar_freq(p, dq), pfa)
    assert abs(alarms - x.size * pfa) <= tol + 0.1 * x.size * pfa  # model error <= 10 %


def test_code_step_bounds_the_threshold():
    """Noise far narrower than a code: readings sit on 1-2 adjacent codes, never a false cell;
    a cell two codes over the highest is found."""
    looks = 1e6
    assert effective_looks(looks, 0.5) == pytest.approx(12 * (10 / np.log(10)) ** 2 / 0.25, rel=1e-3)
    d = cfar.design("ca", 1e-6, 8, 1, looks=looks, code_db=0.5)
    assert d.alpha >= 10 ** 0.05
    rng = np.random.default_rng(7)
    codes = np.full((2000, 64), 100, np.uint8) + (rng.random((2000, 64)) < 0.3)
    assert cfar.cfar_freq(noise.codes_to_mw(codes.astype(np.uint8)), d).sum() == 0
    codes[:, 30] = 103
    assert cfar.cfar_freq(noise.codes_to_mw(codes.astype(np.uint8)), d)[:, 30].all()


def test_floor_detector_on_quantised_gamma_noise():
    rng = np.random.default_rng(3)
    looks, pfa = 200, 1e-3
    p = noise.codes_to_mw(_codes(rng.gamma(looks, 1 / looks, (4000, 256)), rng))
    det = np.zeros(p.shape, np.uint8)
    nf = noise.NoiseFloor(256, looks=looks)
    # as the pipeline calls it: the quantised design's factor
    nf._state.process(p, np.empty_like(p), det, noise.floor_alpha(pfa, looks, 0.5))
    measured = det[200:].mean()  # after start-up
    assert 0.3 * pfa < measured < 1.5 * pfa


def test_gateway_adapter_takes_looks_from_the_front_end_kind():
    from straja.frontends import LOOKS
    from straja.gateway.detector import NodeDetector, core_config

    plain = NodeDetector(1, {})
    assert plain.looks(0, 5_800_000) == 1.0  # kind unknown: the exponential design
    plain.set_info({"front_ends": [{"name": "vid58", "kind": "rx5808"}, {"name": "x", "kind": "cc2500"}]})
    assert (plain.looks(0, 5_800_000), plain.looks(1, 2_440_000)) == (470.0, 203.0)
    assert plain.looks(2, 900_000) == 1.0  # no such front end in the info
    by_band = NodeDetector(1, {"looks_by_band": True})
    assert by_band.looks(0, 5_800_000) == LOOKS["rx5808"]
    assert by_band.looks(1, 2_440_000) == LOOKS["cc2500"]
    assert by_band.looks(2, 915_000) == LOOKS["sx127x"]  # the fewer of SX126x/SX127x
    assert core_config({"looks_by_band": True}).looks == 1.0  # an adapter key, not the core's
    with pytest.raises(ValueError, match="unknown keys"):
        core_config({"look": 3})


def test_pipeline_with_looks_finds_a_weak_emitter_and_measures_its_scan():
    from straja.detect.pipeline import Pipeline, PipelineConfig

    rng = np.random.default_rng(11)
    looks, n_sweeps, n_bins = 203, 400, 64
    x = rng.gamma(looks, 1 / looks, (n_sweeps, n_bins))
    x[:, 30] *= 10 ** 0.3  # +3 dB in one bin: far under the single-look threshold (~13 dB)
    codes = _codes(x, rng)
    t_us = np.arange(n_sweeps, dtype=np.int64) * 780_000
    dur = np.full(n_sweeps, 90_000, np.int64)
    for lk, found in ((looks, True), (1.0, False)):
        pipe = Pipeline(n_bins, 2_400_000, 1_300, PipelineConfig(looks=lk, max_burst_sweeps=1))
        det = np.concatenate([pipe.process(codes[i:i + 50], t_us[i:i + 50], dur[i:i + 50]).det.copy()
                              for i in range(0, n_sweeps, 50)])
        assert (det[:, 30].mean() > 0.9) == found
        noise_cells = np.delete(det, [29, 30, 31], axis=1)
        assert noise_cells.mean() < 1e-4  # design 2e-6 per detector, plus the emitter's skirts
    assert pipe.scan == (1_300.0, 780_000.0, 90_000.0, False)
