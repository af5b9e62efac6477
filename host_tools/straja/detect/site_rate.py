"""A sub-GHz band's site rate, learnt, and a link's rate over it: the band report
(docs/detection.md, "Busy sub-GHz sites: the band report"; measured in docs/measured/sub85.md,
sub88.md, sub92.md, band99.md).

On a busy sub-GHz site one core track a node gathers the residents' hits (meters, LoRaWAN devices
and their gateway's downlinks, meshes), so a drone switched on later joins that track and its alert
(sub75, sub85, sub88). What a link adds is its rate of new hits: the band's hit events a sweep rise
by its share of time on air (ELRS and the LoRa links 0.45-0.75 events a sweep, FrSky R9 0.27-0.47,
Crossfire 150 Hz 0.16-0.26 at +10 dB) over what the site's residents make (0.006-0.17 a sweep
measured on four busy sites). So, per plan:

- an **event** is a burst on a scan channel not hit within STAY_WITHIN sweeps (a long LoRa
  packet read in consecutive sweeps is one packet: the tracker's stay);
- the **site's rate** λ, events a sweep, is learnt in STEP_US steps as the 2.4 GHz band hopper
  learns its cells (an EWMA over BASELINE_US, a running mean until then), each step
  LEARN_DELAY_US late (a link's first hits are not yet the site's), and never from a step that
  was in the window of a report (the report's own hits are the link's, not the site's: a link on
  for minutes stays reported, and a site whose rate rose for good stays reported as well);
- the **test** from START_US after the plan's first event, every step: the last WINDOW_US's n
  events over their S sweeps as Poisson counts, a link's LINK_RATE over the site against the
  site, LLR = n ln((ρ + r) / ρ) - r S, reported at REPORT_LLR (19:1 three times over: at ln 19
  the sites made ~16 excursions a node-hour, at 3 ln 19 none in ~5 node-hours, sub85 and sub88).
  The site's rate tested is ρ = ALIAS_SWING λ: a band whose learnt rate is one link's (a drone
  on from switch-on, learnt as the site) reads up to twice it for seconds as its hop cycle
  aliases with the sweep (Crossfire's 100 hops, 667 ms, against a 51 ms sweep: crossfire_alone at
  n1, 0.24 to 0.56 events a sweep for 3 s), which is no new link; a site of many residents sums
  independent devices, whose rate does not swing so;
- a report says which tracks may be its link: those begun since the site it is tested against
  (the band as it was LEARN_DELAY_US before the excursion's first report): `since_us`;
- a report is named by its excess since the window's likeliest onset (`_onset_excess`): a link
  switched on inside the window adds its rate only after it, and the first reports' windows
  are mostly the site's (sub100).

A link on air from switch-on is learnt as the site and mostly never reported (it keeps the track
rules' alerts, 0.5-2.8 s on these sites), but with only START_US - LEARN_DELAY_US of the band
learnt when the test starts its swing can cross it once: a second alert for its presence
(sub85_elrs868_200_town_from_start, docs/measured/band99.md; sub100: the swing there is the
link's slow shadowing, learnt in a fade it rose out of, not its hop cycle). Nothing is reported
in a plan's first START_US.
"""
from __future__ import annotations

import collections
import itertools
import math
from typing import NamedTuple

import numpy as np

from straja.detect.classify import HIT_RATE
from straja.detect.hoppers import LEARN_DELAY_US
from straja.detect.tracks import STAY_WITHIN

STEP_US = 250_000          # learning and test step
WINDOW_US = 5_000_000      # the recent window (det72, sub75, sub85)
BASELINE_US = 46_000_000   # the EWMA's memory: hoppers.BASELINE_SWEEPS at 2.4 GHz plan sweeps
START_US = 15_000_000      # no test before this long after the plan's first event
LINK_RATE = 0.12           # a link's events a sweep: Crossfire 150 Hz at +10 dB, the least
REPORT_LLR = 3 * math.log(19)
SITE_FLOOR = 1e-3          # a site learnt silent: one event in 1000 sweeps
ALIAS_SWING = 2.0          # a learnt rate that is one link's reads up to this many times it (above)
# a report's name from its excess rate since its onset (_onset_excess): the Poisson boundary
# between a GFSK link's and a LoRa link's hits a sweep (classify.HIT_RATE), where their
# likelihoods are equal
LORA_EXCESS = (HIT_RATE["lora"] - HIT_RATE["gfsk"]) / math.log(HIT_RATE["lora"] / HIT_RATE["gfsk"])
# an onset's rate from a second of steps at least: at a 51 ms sweep a LoRa link's ~12 events
# against a GFSK link's ~4 (HIT_RATE), told apart at ~e^5 (at 15 ms sweeps, ~40 against ~13)
MIN_ONSET_STEPS = 4


class BandReport(NamedTuple):
    """The band's events of the window that was reported (times in µs, the core's clock)."""
    family: str
    t_us: int                 # the step's end
    first_us: int             # the window's first event: the earliest reading it stands for
    since_us: int             # the excursion's first report less LEARN_DELAY_US (above)
    lo_khz: float
    hi_khz: float
    peak_mw: float            # the median event's peak
    excess: float             # events a sweep over the site's since the window's onset
    step_khz: float           # the plan's channel step (an event's extent)
    # (t_us, centre_khz, peak_mw, t_end_us) of the window's events: each its burst's start and
    # end, as read (a burst's stated start is up to a sweep from the packet that made it)
    hits: np.ndarray


class SiteRate:
    def __init__(self, step_khz: float):
        self._step_khz = step_khz
        self._last_on: dict[int, int] = {}           # scan channel -> its last hit's time
        self._events: collections.deque = collections.deque()   # (t_us, khz, peak_mw, t_end_us)
        self._counts: collections.deque = collections.deque()   # (count, reported) per step
        self._step_end = 0
        self._first = None          # the first event's step end
        self._site = 0.0            # λ, events a sweep
        self._learnt = 0            # steps learnt
        self._window_steps = WINDOW_US // STEP_US
        self._delay_steps = LEARN_DELAY_US // STEP_US
        self._since = None          # the excursion's since_us, while its steps are over

    def feed(self, bursts: np.ndarray, now_us: int, period_us: float) -> BandReport | None:
        """This sweep's bursts, the sweep's end and the plan's period: the report of the last
        step closed by now_us if its test is over REPORT_LLR, else None."""
        if period_us <= 0:
            return None
        stay = STAY_WITHIN * period_us
        if bursts.size:
            for t, khz, peak, t_end in zip(bursts["t_start_us"].tolist(),
                                           bursts["centre_khz"].tolist(),
                                           bursts["peak_mw"].tolist(),
                                           bursts["t_end_us"].tolist()):
                channel = round(khz / self._step_khz)
                if t - self._last_on.get(channel, -math.inf) > stay:
                    if self._first is None:
                        self._first = self._step_end = (int(t) // STEP_US + 1) * STEP_US
                    self._events.append((t, khz, peak, t_end))
                self._last_on[channel] = t
        if self._first is None:
            return None
        report = None
        # a step is closed a step late: a burst is known when it closes, sweeps after its start
        while now_us >= self._step_end + STEP_US:
            report = self._step(period_us)
            self._step_end += STEP_US
        return report

    def _step(self, period_us: float) -> BandReport | None:
        """Close the step ending at self._step_end: learn the step LEARN_DELAY_US back, test."""
        end, events = self._step_end, self._events
        count = sum(1 for e in events if end - STEP_US <= e[0] < end)
        counts = self._counts
        counts.append([count, False])
        sweeps_step = STEP_US / period_us
        if len(counts) > self._delay_steps:
            old, reported = counts.popleft()
            if not reported:
                self._learnt += 1
                weight = max(STEP_US / BASELINE_US, 1.0 / self._learnt)
                self._site += weight * (old / sweeps_step - self._site)
        while events and events[0][0] < end - WINDOW_US:
            events.popleft()
        if end - self._first < START_US or not self._learnt:
            return None
        window = [e for e in events if e[0] < end]
        sweeps, site = WINDOW_US / period_us, ALIAS_SWING * max(self._site, SITE_FLOOR)
        n = len(window)
        if n * math.log((site + LINK_RATE) / site) - LINK_RATE * sweeps < REPORT_LLR:
            self._since = None
            return None
        if self._since is None:
            self._since = end - LEARN_DELAY_US
        first_step = max(0, len(counts) - self._window_steps)
        for k in range(first_step, len(counts)):
            counts[k][1] = True  # the window's steps are the link's: not learnt as the site
        excess = _onset_excess([c[0] for c in itertools.islice(counts, first_step, None)],
                               sweeps_step, self._site)
        hits = np.array(window, float)
        half = self._step_khz / 2
        return BandReport("lora_fhss" if excess >= LORA_EXCESS else "gfsk_fhss", end,
                          int(hits[:, 0].min()), self._since, float(hits[:, 1].min() - half),
                          float(hits[:, 1].max() + half), float(np.median(hits[:, 2])), excess,
                          self._step_khz, hits)


def _onset_excess(counts: list, sweeps_step: float, site: float) -> float:
    """The excess rate (events a sweep over `site`) of the window's steps from its most likely
    onset: the split of its steps' `counts` into the site's rate before and one rate after that
    makes them likeliest (Poisson), at least MIN_ONSET_STEPS from the window's end. A link
    switched on inside the window adds its rate only after its switch-on: the whole window's
    excess is a share of its rate (a LoRa link's first reports named GFSK by it,
    sub92_elrs915_100_harbour_at15)."""
    site = max(site, SITE_FLOOR)
    best, excess = 0.0, 0.0
    after = 0
    for k in range(len(counts) - 1, -1, -1):
        after += counts[k]
        steps = len(counts) - k
        if steps < MIN_ONSET_STEPS:
            continue
        rate = after / (steps * sweeps_step)
        if rate <= site:
            continue
        llr = after * math.log(rate / site) - (rate - site) * steps * sweeps_step
        if llr > best:
            best, excess = llr, rate - site
    return excess
