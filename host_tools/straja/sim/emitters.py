"""Transmitter models: a deterministic, seeded schedule of transmissions per link family.

Each emitter has one or more *streams* (a radio's transmissions of one kind: ELRS packets, the
DroneID bursts of a DJI link, ...). Within a stream, transmissions never overlap and are sorted.
They are generated lazily in blocks of BLOCK_S seconds (block k holds the transmissions starting in
[k BLOCK_S, (k+1) BLOCK_S)), from a random generator seeded by (scene seed, emitter, stream, block),
so any block can be made on its own in any order and hours-long scenes cost nothing until read.
Processes whose next event depends on the last (BLE advertising delays, LoRa duty cycles, Wi-Fi
traffic) carry the time of their next event from block to block.

One scene serves every virtual board of a fleet, each from its own thread: an emitter's block
cache and carried state are shared, so `block` holds the emitter's lock while it touches them.

Facts and their sources are in /work/shared/reference/rf-links.md; ExpressLRS tables are those of
ExpressLRS 3.x (src/src/common.cpp), its channel plans and sync channel those of ExpressLRS 4.x
(src/lib/FHSS/FHSS.cpp).
"""
import threading
import zlib
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from ..rf import BLE_ADV_MHZ, WIFI_5G_BLOCKS, analog_channel_mhz, wifi_channel_mhz
from .params import Param, ParamError

BLOCK_S = 1.0
MHZ = 1e6
_CACHE_BLOCKS = 16  # blocks kept per emitter: reads move forward in time, a few back at most


class Packets(NamedTuple):
    """Transmissions of one stream in one block, as parallel arrays sorted by start time."""
    t0: np.ndarray
    t1: np.ndarray
    f: np.ndarray      # centre frequency, Hz
    bw: np.ndarray     # occupied bandwidth, Hz
    chan: np.ndarray   # channel number in the link's own plan (-1 where it has none)


def _packets(t0, t1, f, bw, chan):
    n = len(t0)
    return Packets(np.asarray(t0, float), np.asarray(t1, float),
                   np.broadcast_to(np.asarray(f, float), (n,)).copy(),
                   np.broadcast_to(np.asarray(bw, float), (n,)).copy(),
                   np.broadcast_to(np.asarray(chan, np.int32), (n,)).copy())


class Stream:
    """One radio's non-overlapping transmissions.

    shape: 'rect' (flat-topped: OFDM, LoRa chirps) or 'gauss' (FM, GFSK: 99 % of the power inside
    the occupied bandwidth). sidelobe_dbc: power spread flat over 5x the occupied bandwidth
    (spectral regrowth, phase noise), relative to the total. lookback_s: the longest time a
    transmission can reach past the end of the block it starts in. wideband: a continuous channel
    (video) whose fading averages across the part of it a receiver's filter reads
    (straja.sim.propagation); bursts and hops fade flat.
    """

    def __init__(self, name, shape, f_lo, f_hi, eirp_dbm, lookback_s, sidelobe_dbc=-45.0,
                 remote=False, wideband=False):
        self.name = name
        self.wideband = wideband
        self.remote = remote
        self.shape = shape
        self.f_lo = f_lo
        self.f_hi = f_hi
        self.eirp_dbm = eirp_dbm
        self.lookback_s = lookback_s
        self.sidelobe = 10 ** (sidelobe_dbc / 10)


class Emitter:
    """Base: subclasses set KIND, PARAMS, EIRP_DBM and define _streams() and _generate()."""

    KIND = ""
    PARAMS: dict = {}
    EIRP_DBM = 20.0
    DOC = ""
    # What a demodulator would recognise ("lora", "flrc", "gfsk", "fm", "ofdm", "" for none):
    # a LoRa receiver's channel activity detection hears only "lora" (straja.vboard.chips).
    MODULATION = ""

    @property
    def modulation(self) -> str:
        return self.MODULATION

    def __init__(self, name, params, seed, eirp_dbm, trajectory, schedule, remote=None):
        self.name = name
        self.p = params
        self.seed = seed
        self.eirp_dbm = eirp_dbm
        self.trajectory = trajectory
        self.schedule = schedule
        # The other end of a two-way link: (trajectory, EIRP dBm); default: this end's.
        self.remote = remote or (trajectory, eirp_dbm)
        self.streams = self._streams()
        self._cache = OrderedDict()
        self._carry = [dict() for _ in self.streams]
        self._lock = threading.Lock()

    def rng(self, *key):
        """A generator for one purpose (key: ints and labels), independent of all others."""
        return np.random.default_rng([self.seed] + [zlib.crc32(k.encode()) if isinstance(k, str)
                                                    else k for k in key])

    def source(self, s):
        """(trajectory, EIRP dBm) of the radio that sends stream s."""
        return self.remote if self.streams[s].remote else (self.trajectory, self.eirp_dbm)

    def block(self, s, k):
        """Transmissions of stream s starting in block k, clipped to the on/off schedule."""
        key = (s, k)
        with self._lock:
            pk = self._cache.get(key)
            if pk is None:
                pk = self._generate(s, k)
                keep, t0, t1 = self.schedule.clip(pk.t0, pk.t1)
                pk = Packets(t0, t1, pk.f[keep], pk.bw[keep], pk.chan[keep])
                self._cache[key] = pk
                if len(self._cache) > _CACHE_BLOCKS * len(self.streams):
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            return pk

    def block_range(self, s, t0, t1):
        """Blocks of stream s that can hold transmissions overlapping [t0, t1]."""
        lo = int(np.floor((t0 - self.streams[s].lookback_s) / BLOCK_S))
        return range(max(lo, 0), max(int(np.floor(t1 / BLOCK_S)), 0) + 1)

    def window(self, s, t0, t1):
        """All transmissions of stream s overlapping [t0, t1], concatenated."""
        parts = [self.block(s, k) for k in self.block_range(s, t0, t1)]
        pk = Packets(*(np.concatenate(c) for c in zip(*parts)))
        keep = (pk.t1 > t0) & (pk.t0 < t1)
        return Packets(*(a[keep] for a in pk))

    def describe(self):
        """JSON-friendly summary (for the ground truth header and `straja sim check`)."""
        return {"name": self.name, "kind": self.KIND, "eirp_dbm": self.eirp_dbm, "params": self.p,
                "streams": [{"name": st.name, "f_lo_hz": st.f_lo, "f_hi_hz": st.f_hi,
                             "shape": st.shape, **({"remote": True} if st.remote else {})}
                            for st in self.streams]}

    # Helpers for subclasses.

    @staticmethod
    def periodic(k, period, phase):
        """Indices n >= 0 and times phase + n period of the periodic events starting in block k."""
        n0 = max(int(np.ceil((k * BLOCK_S - phase) / period)), 0)
        n1 = max(int(np.ceil(((k + 1) * BLOCK_S - phase) / period)), 0)
        n = np.arange(n0, n1)
        return n, phase + n * period

    def renewal(self, s, k, first, draw):
        """Event times of a renewal process in block k, carrying the next event across blocks.

        first(rng) -> time of the first event of all; draw(rng, n) -> n gaps between events.
        Blocks before k are made (once) to learn where block k starts.
        """
        carry = self._carry[s]
        if 0 not in carry:
            carry[0] = first(self.rng(s, "first"))
        j = max(i for i in carry if i <= k)
        while True:
            rng = self.rng(s, j)
            t, end = carry[j], (j + 1) * BLOCK_S
            times = []
            while t < end:
                ts = t + np.concatenate(([0.0], np.cumsum(draw(rng, 64))))
                inside = ts < end
                if inside.all():
                    times.append(ts[:-1])
                    t = ts[-1]
                else:
                    times.append(ts[inside])
                    t = ts[~inside][0]
            carry[j + 1] = t
            if j == k:
                return np.concatenate(times) if times else np.empty(0)
            j += 1

    def continuous(self, k, chunk_s):
        """Chunk start times for a continuous emission (fading and motion change per chunk)."""
        n = int(round(BLOCK_S / chunk_s))
        return k * BLOCK_S + chunk_s * np.arange(n)


def _phase(emitter, period):
    return float(emitter.rng("phase").uniform(0, period))


# ExpressLRS ---------------------------------------------------------------------------------------

# Regulatory domains: (first channel Hz, last channel Hz, channel count), ExpressLRS 4.x FHSS.cpp.
ELRS_DOMAINS = {
    "ISM2G4": (2400.4e6, 2479.4e6, 80),
    "FCC915": (903.5e6, 926.9e6, 40),
    "AU915": (915.5e6, 926.9e6, 20),
    "EU868": (863.275e6, 869.575e6, 13),
}
# Rates: name -> (packet interval s, airtime s, packets per hop, occupied bandwidth Hz).
# Intervals, hop intervals and airtimes from ExpressLRS 3.x common.cpp (ExpressLRS_AirRateConfig,
# ExpressLRS_AirRateRFperf); LoRa BW 812.5 kHz (SX1280) and 500 kHz (SX127x); FLRC 650 kb/s BW 0.6 MHz.
ELRS_RATES_2G4 = {
    "F1000": (1000e-6, 389e-6, 2, 0.6e6), "F500": (2000e-6, 389e-6, 2, 0.6e6),
    "500": (2000e-6, 1507e-6, 4, 812.5e3), "333": (3003e-6, 2374e-6, 4, 812.5e3),
    "250": (4000e-6, 3300e-6, 4, 812.5e3), "150": (6666e-6, 5871e-6, 4, 812.5e3),
    "100": (10000e-6, 7605e-6, 4, 812.5e3), "50": (20000e-6, 10798e-6, 2, 812.5e3),
}
ELRS_RATES_900 = {
    "200": (5000e-6, 4380e-6, 4, 500e3), "100F": (10000e-6, 6690e-6, 4, 500e3),
    "100": (10000e-6, 8770e-6, 4, 500e3), "50": (20000e-6, 18560e-6, 4, 500e3),
    "25": (40000e-6, 29950e-6, 2, 500e3),
}


def elrs_rng_values(seed, n):
    """The ExpressLRS PRNG (src/lib/FHSS/random.cpp): LCG a=214013, c=2531011 mod 2^31, >> 16."""
    out = []
    s = seed & 0xFFFFFFFF
    for _ in range(n):
        s = (214013 * s + 2531011) & 0x7FFFFFFF
        out.append(s >> 16)
    return out


def elrs_sequence(seed, n_channels):
    """ExpressLRS FHSSrandomiseFHSSsequenceBuild: hop sequence of channel indices.

    Length floor(256/N)*N; the sync channel N/2 at every N-th position (ExpressLRS 4.x); within
    each block of N, every other entry is swapped with a random entry
    of the same block (excluding the block's first, sync, position), so each block holds every
    channel exactly once.
    """
    length = (256 // n_channels) * n_channels
    sync = n_channels // 2
    seq = []
    for i in range(length):
        r = i % n_channels
        seq.append(sync if r == 0 else 0 if r == sync else r)
    rand = iter(elrs_rng_values(seed, length))
    for i in range(length):
        if i % n_channels:
            offset = (i // n_channels) * n_channels
            j = offset + next(rand) % (n_channels - 1) + 1
            seq[i], seq[j] = seq[j], seq[i]
    return seq, sync


class Hopper(Emitter):
    """A periodic frequency hopper with a fixed pseudo-random hop table.

    _table() sets freqs (Hz per channel), table (channel per hop), interval and airtime (s),
    bw (Hz), shape and hop_every (packets per hop).
    """

    hop_every = 1

    def _table(self):
        raise NotImplementedError

    def _streams(self):
        self._table()
        self.phase = _phase(self, self.interval)
        f = self.freqs[self.table]
        return [Stream("packets", self.shape, f.min() - self.bw, f.max() + self.bw, self.eirp_dbm,
                       self.airtime)]

    def _generate(self, s, k):
        n, t0 = self.periodic(k, self.interval, self.phase)
        ch = self.table[(n // self.hop_every) % len(self.table)]
        return _packets(t0, t0 + self.airtime, self.freqs[ch], self.bw, ch)


class ELRS(Hopper):
    KIND = "elrs"
    EIRP_DBM = 20.0
    DOC = "ExpressLRS control uplink: LoRa/FLRC packets hopping over the domain's channels."
    PARAMS = {
        "domain": Param(str, "ISM2G4", choices=tuple(ELRS_DOMAINS), doc="regulatory domain"),
        "rate": Param(str, "150", doc="packet rate: 2.4 GHz F1000 F500 500 333 250 150 100 50; "
                                      "900 MHz 200 100F 100 50 25"),
        "uid_seed": Param(int, -1, lo=-1, hi=0xFFFFFFFF,
                          doc="FHSS seed from the binding phrase (-1: drawn from the scene seed)"),
        "tlm_ratio": Param(int, 0, choices=(0, 2, 4, 8, 16, 32, 64, 128),
                           doc="telemetry ratio 1:N: every N-th packet slot the receiver (the "
                               "remote end, on the drone) sends instead (0: off)"),
    }

    def _streams(self):
        streams = super()._streams()
        if self.p["tlm_ratio"]:
            up = streams[0]
            streams.append(Stream("telemetry", up.shape, up.f_lo, up.f_hi, self.remote[1],
                                  up.lookback_s, remote=True))
        return streams

    def _generate(self, s, k):
        pk = super()._generate(s, k)
        ratio = self.p["tlm_ratio"]
        if not ratio:
            return pk
        n = np.round((pk.t0 - self.phase) / self.interval).astype(int)
        tlm = n % ratio == 0
        return Packets(*(a[tlm if s else ~tlm] for a in pk))

    def _table(self):
        p = self.p
        rates = ELRS_RATES_2G4 if p["domain"] == "ISM2G4" else ELRS_RATES_900
        if p["rate"] not in rates:
            raise ParamError("rate", f"for domain {p['domain']} must be one of {', '.join(rates)}"
                                     f" (got {p['rate']!r})")
        self.interval, self.airtime, self.hop_every, self.bw = rates[p["rate"]]
        f0, f1, n = ELRS_DOMAINS[p["domain"]]
        self.freqs = f0 + (f1 - f0) / (n - 1) * np.arange(n)
        self.shape = "rect"
        uid = p["uid_seed"] if p["uid_seed"] >= 0 else int(self.rng("uid").integers(0, 2**32))
        seq, self.sync_channel = elrs_sequence(uid, n)
        self.table = self.sequence = np.array(seq)

    @property
    def modulation(self) -> str:
        return "flrc" if self.p["rate"].startswith("F") else "lora"


class Crossfire(Hopper):
    KIND = "crossfire"
    EIRP_DBM = 20.0
    DOC = "TBS Crossfire (estimate): ~100 x 260 kHz (915) or ~27 (868), 150 Hz GFSK or 50 Hz LoRa."
    PARAMS = {
        "band": Param(str, "915", choices=("915", "868")),
        "mode": Param(str, "150", choices=("150", "50"), doc="150 Hz GFSK 85.1 kb/s or 50 Hz LoRa"),
        "airtime_s": Param(float, -1.0, doc="packet airtime (-1: 2.2 ms GFSK, 12 ms LoRa; estimate)"),
    }

    def _table(self):
        p = self.p
        n, f0 = (100, 902.165e6) if p["band"] == "915" else (27, 863.2e6)
        freqs = f0 + 260e3 * np.arange(n)
        table = self.rng("table").permutation(n)
        gfsk = p["mode"] == "150"
        interval = 1 / 150 if gfsk else 1 / 50
        airtime = p["airtime_s"] if p["airtime_s"] > 0 else (2.2e-3 if gfsk else 12e-3)
        self.freqs, self.table, self.interval = freqs, table, interval
        self.airtime, self.bw = min(airtime, interval), (200e3 if gfsk else 500e3)
        self.shape = "gauss" if gfsk else "rect"

    @property
    def modulation(self) -> str:
        return "gfsk" if self.p["mode"] == "150" else "lora"


# FrSky ACCST D16 (FCC) CC2500 settings (DIY-Multiprotocol FrSkyX_cc2500.ino): MDMCFG4/3 = 0x7B/0x61
# (data rate), DEVIATN = 0x51, MDMCFG1 = 0x23 (4 preamble bytes), 30/32 sync (4 bytes), a 30-byte
# packet with its length byte. Rates: 26 MHz x (256 + M) x 2^E / 2^28; deviation 26 MHz / 2^17 x
# (8 + M) x 2^E.
FRSKY_D16_BAUD = 26e6 * (256 + 0x61) * 2 ** 0x0B / 2 ** 28          # 70.03 kBd
FRSKY_D16_DEVIATION_HZ = 26e6 / 2 ** 17 * (8 + 1) * 2 ** 5          # 57.1 kHz
FRSKY_D16_AIRTIME_S = (4 + 4 + 30) * 8 / FRSKY_D16_BAUD              # 4.34 ms
FRSKY_D16_BW_HZ = 2 * (FRSKY_D16_DEVIATION_HZ + FRSKY_D16_BAUD / 2)  # Carson: 184 kHz


class FrSky(Hopper):
    KIND = "frsky"
    MODULATION = "gfsk"
    EIRP_DBM = 20.0
    DOC = "FrSky ACCST D8/D16 (CC2500): 47-entry hop table, one hop per ~9 ms frame, GFSK."
    PARAMS = {
        "frame_s": Param(float, 9e-3, lo=1e-3, hi=0.1, doc="frame (hop) interval"),
        "airtime_s": Param(float, -1.0, lo=-1.0, hi=0.1,
                           doc="packet airtime (-1: 4.34 ms, D16 from its bit rate)"),
    }

    def _table(self):
        # CC2500 channels of 299.9 kHz from 2403 MHz; 47 hops (offset + i*step) mod 235 with a
        # step coprime to 235 = 5 * 47 so that the 47 entries are distinct.
        rng = self.rng("table")
        step = int(rng.choice([s for s in range(12, 36) if s % 5 and s % 47]))
        table = (int(rng.integers(0, 235)) + step * np.arange(47)) % 235
        self.freqs, self.table = 2403.0e6 + 299.926e3 * np.arange(235), table
        airtime = self.p["airtime_s"] if self.p["airtime_s"] > 0 else FRSKY_D16_AIRTIME_S
        self.interval, self.airtime = self.p["frame_s"], min(airtime, self.p["frame_s"])
        self.bw, self.shape = FRSKY_D16_BW_HZ, "gauss"


# FrSky R9 (900 MHz ACCST/ACCESS, SX1276; DIY-Multiprotocol FrSkyR9_sx1276.ino): LoRa SF6 at
# 500 kHz, CR 4/5, implicit header, no CRC, 9 preamble symbols, a 26-byte packet every 19.4 ms on
# a new channel each packet. 27 channels 499.712 kHz apart (915: from 914.47296 MHz; 868: from
# 859.50464 MHz), walked in steps of a bound `step` (1-24) over a 29-entry map whose last two
# entries repeat channels step and step + 1. Airtime: symbol 2^6 / 500 kHz = 128 us; preamble
# 9 + 4.25 symbols, payload 8 + ceil((8 x 26 - 4 x 6 + 28 - 20) / (4 x 6)) x 5 = 48 symbols.
FRSKY_R9_SYMBOL_S = 2 ** 6 / 500e3
FRSKY_R9_AIRTIME_S = (9 + 4.25 + 48) * FRSKY_R9_SYMBOL_S           # 7.84 ms
FRSKY_R9_BANDS = {"915": 914.47296e6, "868": 859.50464e6}


class FrSkyR9(Hopper):
    KIND = "frsky_r9"
    MODULATION = "lora"
    EIRP_DBM = 20.0
    DOC = "FrSky R9 (SX1276): LoRa SF6 500 kHz, a new channel of 27 every 19.4 ms packet."
    PARAMS = {
        "band": Param(str, "915", choices=tuple(FRSKY_R9_BANDS)),
    }

    def _table(self):
        freqs = FRSKY_R9_BANDS[self.p["band"]] + 499.712e3 * np.arange(27)
        step = int(self.rng("table").integers(1, 25))
        index = (step * np.arange(29)) % 29
        # map entries 27 and 28 are channels step and step + 1 again
        self.table = np.where(index == 27, step, np.where(index == 28, step + 1, index))
        self.freqs, self.interval, self.airtime = freqs, 19.4e-3, FRSKY_R9_AIRTIME_S
        self.bw, self.shape = 500e3, "rect"


class FlySky(Hopper):
    KIND = "flysky"
    MODULATION = "gfsk"
    EIRP_DBM = 20.0
    DOC = "FlySky AFHDS 2A (A7105): a new channel of a 16-entry table every 3.85 ms packet."
    PARAMS = {
        "interval_s": Param(float, 3.85e-3, lo=1e-3, hi=0.05, doc="packet (and hop) interval"),
        "airtime_s": Param(float, 1.2e-3, lo=1e-4, hi=0.05, doc="packet airtime (estimate)"),
    }

    def _table(self):
        # A7105 channels are 500 kHz apart from 2400 MHz; the bind packet carries 16 of them.
        self.freqs = 2400e6 + 500e3 * np.arange(160)
        self.table = self.rng("table").choice(np.arange(10, 160), 16, replace=False)
        self.interval = self.p["interval_s"]
        self.airtime = min(self.p["airtime_s"], self.interval)
        self.bw, self.shape = 1e6, "gauss"


class DSMX(Emitter):
    KIND = "dsmx"
    MODULATION = "gfsk"
    EIRP_DBM = 20.0
    DOC = "Spektrum DSMX (CYRF6936): two packets per 11 or 22 ms frame, 4.01 ms apart, each on " \
          "the next of 23 channels."
    PARAMS = {
        "frame_s": Param(float, 11e-3, choices=(11e-3, 22e-3), doc="frame period"),
        "airtime_s": Param(float, 1.28e-3, lo=1e-4, hi=4e-3,
                           doc="packet airtime (16 bytes + SOP, length, CRC at 64 us/byte)"),
    }
    PAIR_GAP_S = 4.01e-3  # Multiprotocol DSM_CH1_CH2_DELAY

    def _streams(self):
        # 23 distinct 1 MHz CYRF channels in 2402-2473 MHz (DSMX spreads them over the band).
        self.table = np.sort(self.rng("table").choice(np.arange(2, 74), 23, replace=False))
        self.table = self.rng("order").permutation(self.table)
        self.phase = _phase(self, self.p["frame_s"])
        return [Stream("packets", "gauss", 2400e6 + 1e6, 2400e6 + 75e6, self.eirp_dbm,
                       self.PAIR_GAP_S + self.p["airtime_s"])]

    def _generate(self, s, k):
        n, frames = self.periodic(k, self.p["frame_s"], self.phase)
        t0 = (frames[:, None] + [0.0, self.PAIR_GAP_S]).ravel()
        ch = self.table[(2 * n[:, None] + [0, 1]).ravel() % len(self.table)]
        return _packets(t0, t0 + self.p["airtime_s"], 2400e6 + 1e6 * ch, 1e6, ch)


class BluetoothClassic(Hopper):
    KIND = "bt_classic"
    MODULATION = "gfsk"
    EIRP_DBM = 4.0
    DOC = "Bluetooth BR/EDR connection: 79 x 1 MHz from 2402 MHz, 625 us slots, 1600 hops/s."
    PARAMS = {
        "activity": Param(float, 0.5, lo=0.0, hi=1.0, doc="fraction of slots that carry a packet"),
        "airtime_s": Param(float, 366e-6, lo=1e-5, hi=625e-6, doc="packet airtime (DH1: 366 us)"),
        "packet_slots": Param(int, 1, choices=(1, 3, 5),
                              doc="slots of the data packets (3: DH3 1626 us, 5: DH5 2870 us), "
                                  "each answered by a 1-slot packet"),
        "afh_channels": Param(int, 79, lo=20, hi=79, doc="channels left by adaptive hopping"),
    }
    MULTI_SLOT_AIRTIME_S = {3: 1626e-6, 5: 2870e-6}  # DH3, DH5 (Core spec vol 2 part B 6.7)

    def _table(self):
        self.freqs, self.table = 2402e6 + 1e6 * np.arange(79), np.arange(79)
        self.interval, self.airtime, self.bw, self.shape = 625e-6, self.p["airtime_s"], 1e6, "gauss"
        self.used = np.arange(79)
        if self.p["afh_channels"] < 79:
            self.used = np.sort(self.rng("afh").choice(79, self.p["afh_channels"], replace=False))

    def _generate(self, s, k):
        if self.p["packet_slots"] > 1 or len(self.used) < 79:
            return self._exchanges(s, k)
        # The BR/EDR hop selection kernel is replaced by a uniform seeded choice per slot.
        n, t0 = self.periodic(k, self.interval, self.phase)
        rng = self.rng(s, k)
        ch = rng.integers(0, 79, len(n))
        used = rng.random(len(n)) < self.p["activity"]
        return _packets(t0[used], t0[used] + self.airtime, self.freqs[ch[used]], self.bw, ch[used])

    def _exchanges(self, s, k):
        """Multi-slot packets and their 1-slot answers, each on its own hop among the channels
        adaptive hopping kept; a packet stays on the frequency of the slot it starts in."""
        slots = self.p["packet_slots"]
        n, t0 = self.periodic(k, (slots + 1) * self.interval, self.phase)
        rng = self.rng(s, k)
        used = rng.random(len(n)) < self.p["activity"]
        t0 = t0[used]
        data_airtime = self.MULTI_SLOT_AIRTIME_S.get(slots, self.airtime)
        starts = np.stack([t0, t0 + slots * self.interval], 1).ravel()
        ends = starts + np.tile([data_airtime, self.airtime], len(t0))
        ch = self.used[rng.integers(0, len(self.used), len(starts))]
        return _packets(starts, ends, self.freqs[ch], self.bw, ch)


# Video ----------------------------------------------------------------------------------------------

class Continuous(Emitter):
    """A continuous emission while on, cut into chunks over which motion and fading are frozen."""

    CHUNK = Param(float, 5e-3, lo=1e-4, hi=BLOCK_S, doc="coherence chunk: motion/fading step")

    def _generate(self, s, k):
        c = self.p["chunk_s"]
        t0 = self.continuous(k, c)
        return _packets(t0, t0 + c, self.centre, self.bw, self.chan)


class AnalogVideo(Continuous):
    KIND = "analog_video"
    MODULATION = "fm"
    EIRP_DBM = 25.0
    DOC = "Analog 5.8 GHz FM video: continuous, ~20 MHz occupied, on a named channel."
    PARAMS = {
        "channel": Param(str, "R1", doc="band letter A/B/E/F/R and number 1-8"),
        "bw_mhz": Param(float, 20.0, lo=1.0, hi=40.0, doc="occupied bandwidth"),
        "chunk_s": Continuous.CHUNK,
    }

    def _streams(self):
        try:
            self.centre = analog_channel_mhz(self.p["channel"]) * MHZ
        except ValueError as e:
            raise ParamError("channel", str(e)) from None
        band = self.p["channel"][0].upper()
        self.chan = "ABEFR".index(band) * 8 + int(self.p["channel"][1:]) - 1
        self.bw = self.p["bw_mhz"] * MHZ
        return [Stream("video", "gauss", self.centre - 3 * self.bw, self.centre + 3 * self.bw,
                       self.eirp_dbm, self.p["chunk_s"], wideband=True)]


DRONEID_FREQS_MHZ = [2399.5, 2414.5, 2429.5, 2444.5, 2459.5]


class OFDMVideo(Continuous):
    KIND = "ofdm_video"
    MODULATION = "ofdm"
    EIRP_DBM = 25.0
    DOC = "DJI-style OFDM digital video (flat-topped) with optional DroneID bursts."
    PARAMS = {
        "centre_mhz": Param(float, 5745.0, lo=2300.0, hi=6000.0, doc="video centre frequency"),
        "bw_mhz": Param(float, 20.0, choices=(10.0, 20.0, 40.0), doc="video bandwidth"),
        "chunk_s": Continuous.CHUNK,
        "droneid": Param(bool, True, doc="send DroneID bursts"),
        "droneid_period_s": Param(float, 0.6, lo=0.01, hi=10.0, doc="DroneID burst period"),
        "droneid_airtime_s": Param(float, 0.64e-3, lo=1e-5, hi=0.01),
        "droneid_bw_mhz": Param(float, 10.0, lo=1.0, hi=20.0),
        "droneid_freqs_mhz": Param("floats", DRONEID_FREQS_MHZ, doc="DroneID frequencies, cycled"),
    }

    def _streams(self):
        p = self.p
        self.centre, self.bw, self.chan = p["centre_mhz"] * MHZ, p["bw_mhz"] * MHZ, -1
        streams = [Stream("video", "rect", self.centre - 3 * self.bw, self.centre + 3 * self.bw,
                          self.eirp_dbm, p["chunk_s"], sidelobe_dbc=-35.0, wideband=True)]
        if p["droneid"]:
            f = np.array(p["droneid_freqs_mhz"]) * MHZ
            self.did_freqs, self.did_bw = f, p["droneid_bw_mhz"] * MHZ
            self.did_phase = _phase(self, p["droneid_period_s"])
            streams.append(Stream("droneid", "rect", f.min() - 3 * self.did_bw,
                                  f.max() + 3 * self.did_bw, self.eirp_dbm, p["droneid_airtime_s"],
                                  sidelobe_dbc=-35.0))
        return streams

    def _generate(self, s, k):
        if s == 0:
            return super()._generate(s, k)
        p = self.p
        n, t0 = self.periodic(k, p["droneid_period_s"], self.did_phase)
        ch = n % len(self.did_freqs)
        return _packets(t0, t0 + p["droneid_airtime_s"], self.did_freqs[ch], self.did_bw, ch)


class OcuSync(Continuous):
    KIND = "ocusync"
    MODULATION = "ofdm"
    EIRP_DBM = 25.0
    DOC = "DJI OcuSync-style link: OFDM video from the drone on a fixed channel, narrow " \
          "uplink bursts from the controller (the remote end) hopping across the same band."
    PARAMS = {
        "centre_mhz": Param(float, 5785.0, lo=2400.0, hi=5900.0, doc="video centre frequency"),
        "bw_mhz": Param(float, 20.0, choices=(10.0, 20.0, 40.0), doc="video bandwidth"),
        "chunk_s": Continuous.CHUNK,
        "uplink_interval_s": Param(float, 14e-3, lo=1e-3, hi=0.1, doc="uplink burst period (estimate)"),
        "uplink_airtime_s": Param(float, 0.6e-3, lo=5e-5, hi=5e-3, doc="uplink burst airtime (estimate)"),
        "uplink_bw_mhz": Param(float, 1.4, lo=0.2, hi=10.0, doc="uplink burst bandwidth (estimate)"),
    }
    # Hop span of the uplink in each band, MHz (the band's ISM/SRD allocation less a margin).
    UPLINK_SPAN_MHZ = {"2.4": (2403.5, 2477.5), "5.8": (5727.5, 5847.5)}

    def _streams(self):
        p = self.p
        band = "2.4" if p["centre_mhz"] < 3000 else "5.8"
        self.centre, self.bw, self.chan = p["centre_mhz"] * MHZ, p["bw_mhz"] * MHZ, -1
        lo, hi = self.UPLINK_SPAN_MHZ[band]
        self.up_freqs = np.arange(lo, hi + 0.01, p["uplink_bw_mhz"]) * MHZ
        self.up_bw = p["uplink_bw_mhz"] * MHZ
        self.up_phase = _phase(self, p["uplink_interval_s"])
        return [Stream("video", "rect", self.centre - 3 * self.bw, self.centre + 3 * self.bw,
                       self.eirp_dbm, p["chunk_s"], sidelobe_dbc=-35.0, wideband=True),
                Stream("uplink", "rect", self.up_freqs[0] - 3 * self.up_bw,
                       self.up_freqs[-1] + 3 * self.up_bw, self.remote[1],
                       p["uplink_airtime_s"], sidelobe_dbc=-35.0, remote=True)]

    def _generate(self, s, k):
        if s == 0:
            return super()._generate(s, k)
        p = self.p
        t0 = self.periodic(k, p["uplink_interval_s"], self.up_phase)[1]
        ch = self.rng(s, k).integers(0, len(self.up_freqs), len(t0))
        return _packets(t0, t0 + p["uplink_airtime_s"], self.up_freqs[ch], self.up_bw, ch)


# Background -----------------------------------------------------------------------------------------

TU_S = 1024e-6


class WiFi(Emitter):
    KIND = "wifi"
    MODULATION = "ofdm"
    EIRP_DBM = 20.0
    DOC = "Wi-Fi access point: beacons every beacon_interval_tu x 1.024 ms, plus traffic bursts."
    PARAMS = {
        "channel": Param(int, 6, lo=1, hi=177, doc="IEEE channel number (1-14: 2.4 GHz)"),
        "bw_mhz": Param(float, 20.0, choices=(20.0, 40.0, 80.0),
                        doc="channel width; 40/80: `channel` is the primary 20 MHz channel"),
        "secondary": Param(str, "above", choices=("above", "below"),
                           doc="2.4 GHz 40 MHz: secondary channel above or below the primary"),
        "beacon_interval_tu": Param(int, 100, lo=1, hi=65535, doc="beacon interval in TU (1.024 ms)"),
        "beacon_airtime_s": Param(float, -1.0, lo=-1.0, hi=0.01,
                                  doc="beacon airtime (-1: 1.9 ms at 2.4 GHz, ~230 bytes at 1 Mb/s "
                                      "DSSS; 0.3 ms at 5 GHz, OFDM 6 Mb/s)"),
        "traffic_load": Param(float, 0.05, lo=0.0, hi=0.9, doc="fraction of airtime with traffic"),
        "frame_s": Param(float, 0.5e-3, lo=2e-5, hi=5e-3, doc="mean traffic frame airtime"),
    }

    def _streams(self):
        self.primary = wifi_channel_mhz(self.p["channel"]) * MHZ
        self.beacon_airtime = self.p["beacon_airtime_s"] if self.p["beacon_airtime_s"] > 0 else \
            (1.9e-3 if self.p["channel"] <= 14 else 0.3e-3)
        self.bw = self.p["bw_mhz"] * MHZ
        self.centre = self._block_centre()
        self.period = self.p["beacon_interval_tu"] * TU_S
        self.phase = _phase(self, self.period)
        lo, hi = self.centre - 3 * self.bw, self.centre + 3 * self.bw
        streams = [Stream("beacons", "rect", self.primary - 60e6, self.primary + 60e6,
                          self.eirp_dbm, self.beacon_airtime, sidelobe_dbc=-30.0)]
        if self.p["traffic_load"] > 0:
            streams.append(Stream("traffic", "rect", lo, hi, self.eirp_dbm, 2 * 5e-3,
                                  sidelobe_dbc=-30.0))
        return streams

    def _generate(self, s, k):
        if s == 0:
            # Beacons go out on the primary 20 MHz channel only (802.11-2020 11.1.3.2).
            t0 = self.periodic(k, self.period, self.phase)[1]
            return _packets(t0, t0 + self.beacon_airtime, self.primary, 20 * MHZ,
                            self.p["channel"])
        # Traffic: frames of exponential airtime (capped at 5 ms) separated by exponential idle
        # gaps chosen so that the busy fraction is traffic_load.
        mean, load = self.p["frame_s"], self.p["traffic_load"]
        idle = mean * (1 - load) / load
        times = self.renewal(s, k, lambda r: r.exponential(idle),
                             lambda r, n: np.minimum(r.exponential(mean, n), 5e-3) + r.exponential(idle, n))
        dur = np.minimum(self.rng(s, k, "dur").exponential(mean, len(times)), 5e-3)
        ends = np.minimum(times + dur, np.append(times[1:], self._carry[s][k + 1]))
        return _packets(times, ends, self.centre, self.bw, self.p["channel"])


    def _block_centre(self):
        """Centre of the 20/40/80 MHz channel the primary channel belongs to."""
        ch, width = self.p["channel"], self.p["bw_mhz"]
        if width == 20.0:
            return self.primary
        if ch <= 14:
            if width != 40.0 or ch == 14:
                raise ParamError("bw_mhz", "2.4 GHz channels are 20 or 40 MHz (channels 1-13)")
            above = self.p["secondary"] == "above"
            if not (ch <= 9 if above else ch >= 5):
                raise ParamError("secondary", f"channel {ch} has no secondary channel "
                                              f"{self.p['secondary']} it in 2.4 GHz")
            return self.primary + (10e6 if above else -10e6)
        n = int(width // 20)
        for first in WIFI_5G_BLOCKS[width]:
            if first <= ch < first + 4 * n and (ch - first) % 4 == 0:
                return (wifi_channel_mhz(first) + (width - 20) / 2) * MHZ
        raise ParamError("channel", f"channel {ch} is not in a {width:g} MHz channel")


class BLEAdvertiser(Emitter):
    KIND = "ble_adv"
    MODULATION = "gfsk"
    EIRP_DBM = 0.0
    DOC = "BLE advertiser: an event on 37, 38, 39 every interval + 0-10 ms random advDelay."
    PARAMS = {
        "interval_s": Param(float, 0.1, lo=0.02, hi=10.24, doc="advInterval (20 ms - 10.24 s)"),
        "airtime_s": Param(float, 376e-6, lo=80e-6, hi=2.2e-3, doc="PDU airtime (ADV_IND 47 B)"),
        "channel_gap_s": Param(float, 0.6e-3, lo=0.0, hi=10e-3, doc="gap between PDUs of an event"),
    }

    def _streams(self):
        p = self.p
        self.step = p["airtime_s"] + p["channel_gap_s"]
        return [Stream("adv", "gauss", 2400e6, 2482e6, self.eirp_dbm, 3 * self.step)]

    def _generate(self, s, k):
        iv = self.p["interval_s"]
        ev = self.renewal(s, k, lambda r: r.uniform(0, iv),
                          lambda r, n: iv + r.uniform(0, 10e-3, n))
        t0 = (ev[:, None] + self.step * np.arange(3)).ravel()
        ch = np.tile([37, 38, 39], len(ev))
        f = np.tile([BLE_ADV_MHZ[c] * MHZ for c in (37, 38, 39)], len(ev))
        return _packets(t0, t0 + self.p["airtime_s"], f, 2e6, ch)


def ble_data_channel_hz(k):
    """BLE data channel k (0-36): 2404 + 2k MHz below advertising channel 38, 2428 + 2(k-11) above."""
    k = np.asarray(k)
    return np.where(k <= 10, 2404e6 + 2e6 * k, 2428e6 + 2e6 * (k - 11))


class BLEConnection(Emitter):
    KIND = "ble_conn"
    MODULATION = "gfsk"
    EIRP_DBM = 0.0
    DOC = "BLE connection in throughput mode: every connection event on the next data channel " \
          "(channel selection #1), filled with full-length packets each answered after T_IFS."
    PARAMS = {
        "interval_s": Param(float, 7.5e-3, lo=7.5e-3, hi=4.0, doc="connection interval"),
        "phy": Param(str, "1M", choices=("1M", "2M"), doc="PHY: 1 or 2 Mb/s"),
        "payload_bytes": Param(int, 251, lo=0, hi=251, doc="LL payload of the data packets"),
        "event_fill": Param(float, 1.0, lo=0.0, hi=1.0,
                            doc="fraction of the interval the event may fill"),
    }
    T_IFS_S = 150e-6
    OVERHEAD_BYTES = {"1M": 10, "2M": 11}  # preamble (1 or 2), access address 4, header 2, CRC 3

    def _streams(self):
        p = self.p
        byte_s = 8e-6 if p["phy"] == "1M" else 4e-6
        self.data_s = (self.OVERHEAD_BYTES[p["phy"]] + p["payload_bytes"]) * byte_s
        self.empty_s = self.OVERHEAD_BYTES[p["phy"]] * byte_s
        pair = self.data_s + self.empty_s + 2 * self.T_IFS_S
        self.pairs = max(int(p["event_fill"] * p["interval_s"] // pair), 1)
        self.hop = int(self.rng("hop").integers(5, 17))
        self.phase = _phase(self, p["interval_s"])
        self.bw = 2e6 if p["phy"] == "2M" else 1e6
        return [Stream("events", "gauss", 2402e6, 2480e6, self.eirp_dbm, p["interval_s"])]

    def _generate(self, s, k):
        n, ev = self.periodic(k, self.p["interval_s"], self.phase)
        step = self.data_s + self.empty_s + 2 * self.T_IFS_S
        offsets = np.stack([step * np.arange(self.pairs),
                            step * np.arange(self.pairs) + self.data_s + self.T_IFS_S], 1).ravel()
        t0 = (ev[:, None] + offsets).ravel()
        dur = np.tile([self.data_s, self.empty_s], len(ev) * self.pairs)
        ch = np.repeat((self.hop * (n + 1)) % 37, 2 * self.pairs)
        return _packets(t0, t0 + dur, ble_data_channel_hz(ch), self.bw, ch)


def lora_airtime_s(sf, bw_hz, payload, cr=1, preamble=8, explicit_header=True, crc=True):
    """LoRa time on air (Semtech AN1200.13, SX127x datasheet 4.1.1.7); cr = 1..4 for 4/5..4/8."""
    t_sym = 2.0 ** sf / bw_hz
    de = 1 if t_sym > 16e-3 else 0  # low data rate optimisation
    num = 8 * payload - 4 * sf + 28 + 16 * crc - 20 * (not explicit_header)
    n_payload = 8 + max(int(np.ceil(num / (4 * (sf - 2 * de)))) * (cr + 4), 0)
    return (preamble + 4.25) * t_sym + n_payload * t_sym


class LoRaDevice(Emitter):
    KIND = "lora_device"
    MODULATION = "lora"
    EIRP_DBM = 14.0
    DOC = "A LoRa device (LoRaWAN node, Meshtastic node): duty-cycled packets, no ELRS-like hopping."
    PRESETS = {  # channels, SF, BW, payload, preamble, mean interval, duty-cycle limit
        "lorawan_eu868": ([868.1, 868.3, 868.5], 9, 125e3, 20, 8, 60.0, 0.01),
        "lorawan_us915": ([902.3 + 0.2 * i for i in range(8)], 9, 125e3, 20, 8, 60.0, 1.0),
        "meshtastic_eu868": ([869.525], 11, 250e3, 40, 16, 60.0, 0.1),
        "meshtastic_us915": ([906.875], 11, 250e3, 40, 16, 60.0, 1.0),
    }
    PARAMS = {
        "preset": Param(str, "lorawan_eu868", choices=tuple(PRESETS)),
        "channels_mhz": Param("floats", [], doc="override the preset's channels"),
        "sf": Param(int, 0, lo=0, hi=12, doc="spreading factor (0: preset)"),
        "bw_khz": Param(float, 0.0, lo=0.0, hi=500.0, doc="LoRa bandwidth (0: preset)"),
        "payload_bytes": Param(int, 0, lo=0, hi=255, doc="payload length (0: preset)"),
        "mean_interval_s": Param(float, 0.0, lo=0.0, doc="mean time between packets (0: preset)"),
    }

    def _streams(self):
        ch, sf, bw, pl, pre, iv, duty = self.PRESETS[self.p["preset"]]
        p = self.p
        self.freqs = np.array(p["channels_mhz"] or ch) * MHZ
        self.sf, self.bw = p["sf"] or sf, (p["bw_khz"] * 1e3) or bw
        self.airtime = lora_airtime_s(self.sf, self.bw, p["payload_bytes"] or pl, preamble=pre)
        self.interval = p["mean_interval_s"] or iv
        self.min_gap = self.airtime * (1 / duty - 1)
        return [Stream("packets", "rect", self.freqs.min() - self.bw, self.freqs.max() + self.bw,
                       self.eirp_dbm, self.airtime)]

    def _generate(self, s, k):
        gap = lambda r, n: self.airtime + np.maximum(r.exponential(self.interval, n), self.min_gap)
        t0 = self.renewal(s, k, lambda r: r.uniform(0, self.interval), gap)
        ch = self.rng(s, k, "ch").integers(0, len(self.freqs), len(t0))
        return _packets(t0, t0 + self.airtime, self.freqs[ch], self.bw, ch)


class SRDHopper(Emitter):
    KIND = "srd_hopper"
    MODULATION = "gfsk"
    EIRP_DBM = 24.0
    DOC = "Sub-GHz FHSS short-range device (smart-meter mesh): each packet on a channel drawn " \
          "from its hop set, packets Poisson-spaced."
    PARAMS = {
        "first_mhz": Param(float, 902.4, lo=400.0, hi=1000.0, doc="first channel centre"),
        "channels": Param(int, 50, lo=2, hi=200, doc="hop channels (FCC 15.247: >= 50 below 250 kHz)"),
        "spacing_khz": Param(float, 500.0, lo=10.0, hi=2000.0, doc="channel spacing"),
        "bw_khz": Param(float, 150.0, lo=10.0, hi=1000.0, doc="occupied bandwidth"),
        "airtime_s": Param(float, 20e-3, lo=1e-4, hi=0.4, doc="packet airtime (<= 0.4 s dwell)"),
        "mean_interval_s": Param(float, 1.0, lo=1e-3, hi=3600.0, doc="mean time between packets"),
    }

    def _streams(self):
        p = self.p
        self.freqs = (p["first_mhz"] + p["spacing_khz"] / 1e3 * np.arange(p["channels"])) * MHZ
        self.bw = p["bw_khz"] * 1e3
        return [Stream("packets", "gauss", self.freqs[0] - self.bw, self.freqs[-1] + self.bw,
                       self.eirp_dbm, p["airtime_s"])]

    def _generate(self, s, k):
        p = self.p
        t0 = self.renewal(s, k, lambda r: r.uniform(0, p["mean_interval_s"]),
                          lambda r, n: p["airtime_s"] + r.exponential(p["mean_interval_s"], n))
        ch = self.rng(s, k, "ch").integers(0, len(self.freqs), len(t0))
        return _packets(t0, t0 + p["airtime_s"], self.freqs[ch], self.bw, ch)


class Microwave(Emitter):
    KIND = "microwave"
    EIRP_DBM = 15.0
    DOC = "Microwave oven leakage: on for one mains half-cycle, frequency swept around 2.45 GHz."
    PARAMS = {
        "mains_hz": Param(float, 50.0, choices=(50.0, 60.0)),
        "f_lo_mhz": Param(float, 2440.0, lo=2400.0, hi=2500.0),
        "f_hi_mhz": Param(float, 2470.0, lo=2400.0, hi=2500.0),
        "segments": Param(int, 8, lo=1, hi=64, doc="steps of the sweep per half-cycle"),
    }

    def _streams(self):
        p = self.p
        self.period = 1 / p["mains_hz"]
        self.seg = 0.45 * self.period / p["segments"]  # conducts ~90 % of a half-cycle
        self.seg_bw = max((p["f_hi_mhz"] - p["f_lo_mhz"]) * MHZ / p["segments"] * 1.5, 2e6)
        self.phase = _phase(self, self.period)
        # Magnetron frequency follows anode current: up and back down within the half-cycle.
        x = (np.arange(p["segments"]) + 0.5) / p["segments"]
        tri = 1 - np.abs(2 * x - 1)
        self.seg_f = (p["f_lo_mhz"] + (p["f_hi_mhz"] - p["f_lo_mhz"]) * tri) * MHZ
        return [Stream("leakage", "gauss", p["f_lo_mhz"] * MHZ - 3 * self.seg_bw,
                       p["f_hi_mhz"] * MHZ + 3 * self.seg_bw, self.eirp_dbm, self.seg,
                       sidelobe_dbc=-25.0)]

    def _generate(self, s, k):
        m = self.p["segments"]
        t0 = self.periodic(k, self.period, self.phase)[1][:, None] + self.seg * np.arange(m)
        f = np.broadcast_to(self.seg_f, t0.shape)
        t0 = t0.ravel()
        return _packets(t0, t0 + self.seg, f.ravel(), self.seg_bw, -1)


KINDS = {cls.KIND: cls for cls in (ELRS, Crossfire, FrSky, FrSkyR9, FlySky, DSMX, AnalogVideo,
                                    OFDMVideo, OcuSync, WiFi, BluetoothClassic, BLEAdvertiser,
                                    BLEConnection, LoRaDevice, SRDHopper, Microwave)}
# The classifier family (straja.detect.classify.FAMILIES) a drone's emitter kind should be named:
# its control links and its video. Any kind not here is not a drone (clutter, Remote ID).
DRONE_FAMILY = {"elrs": "lora_fhss", "crossfire": "gfsk_fhss", "frsky": "gfsk_fhss",
                "frsky_r9": "lora_fhss", "flysky": "gfsk_fhss", "dsmx": "gfsk_fhss",
                "analog_video": "analog_fm_video", "ofdm_video": "ofdm_video", "ocusync": "ofdm_video"}


def drone_family(kind: str, params: dict) -> str | None:
    """The family an emitter of `kind` with `params` should be named (None: not a drone). A
    control link is named by the modulation a receiver can tell, not by its make: an ExpressLRS
    link at an FLRC rate (F500, F1000) sends GFSK-family packets, not LoRa, and Crossfire's 50 Hz
    mode sends LoRa ones."""
    if kind == "elrs" and str(params.get("rate", "")).startswith("F"):
        return "gfsk_fhss"
    if kind == "crossfire" and str(params.get("mode", "")) == "50":
        return "lora_fhss"
    return DRONE_FAMILY.get(kind)
