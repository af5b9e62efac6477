"""Wire protocol v1, the plain-Python reference (docs/protocol.md is the one definition).

Node to host: frames `0x00 COBS(header body crc) 0x00`; host to node: command lines. This module
is the readable version of both directions: constants (those of the firmware's
`straja_node.wire`, re-exported, with their names), frame dataclasses, CRC-16/CCITT-FALSE, COBS,
a single-frame encoder and decoder, the streaming `ReferenceDecoder`, and command lines.
The Cython decoder (`straja.framing.Decoder`) must agree with `ReferenceDecoder` exactly, frames
and counters; tests/test_protocol_*.py check that on the shared vectors and on mutated streams.
"""
from __future__ import annotations

import json
import re
import struct
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from straja_node.wire import (  # the wire constants' one definition, re-exported here
    BAD_ARG, BAD_LINE, CRC_INIT, CRC_LEN, ENVELOPE, ENVELOPE_LAYOUT, FAILED, FLAG_INTERLEAVED,
    FLAG_OVERRUN, FLAG_PAIRS, FLAG_REVISIT, FLAG_SATURATED, HEADER_LAYOUT, HEADER_LEN, LOG, LOG_LAYOUT,
    MAX_ENCODED, MAX_FRAME, MAX_LINE, MAX_WIRE, MODE_IDLE, MODE_SAFE, MODE_STREAMING, OK, REMOTEID,
    REMOTEID_DATA_MAX, REMOTEID_LAYOUT, REPLY, REPLY_LAYOUT,
    RESET_BROWN_OUT, RESET_DEEPSLEEP, RESET_HARD, RESET_POWER_ON, RESET_SOFT, RESET_UNKNOWN,
    RESET_WATCHDOG, RSSI_CODE_MAX, STATUS, STATUS_LAYOUT, SWEEP, SWEEP_LAYOUT, TOO_LONG, UNKNOWN,
    T_US_BITS, VERSION, crc_table, interleave_stride,
)

if TYPE_CHECKING:
    import numpy as np
# NumPy is imported where an array is made, not here: the commands that never make one
# (`straja deploy`, `info`, `ports`...) start some 0.1 s sooner without it

TYPE_NAMES = {SWEEP: "SWEEP", ENVELOPE: "ENVELOPE", STATUS: "STATUS", LOG: "LOG", REPLY: "REPLY",
              REMOTEID: "REMOTEID"}
STATUS_NAMES = {OK: "OK", UNKNOWN: "UNKNOWN", BAD_ARG: "BAD_ARG", TOO_LONG: "TOO_LONG",
                BAD_LINE: "BAD_LINE", FAILED: "FAILED"}
RESET_CAUSES = {RESET_POWER_ON: "power-on", RESET_HARD: "hard reset", RESET_WATCHDOG: "watchdog",
                RESET_SOFT: "soft reset", RESET_DEEPSLEEP: "deep-sleep wake",
                RESET_BROWN_OUT: "brown-out", RESET_UNKNOWN: "unknown"}
MODES = {MODE_IDLE: "idle", MODE_STREAMING: "streaming", MODE_SAFE: "safe mode"}

# Struct layouts of the header and of each body's fixed part (docs/protocol.md tables).
HEADER_FMT = struct.Struct(HEADER_LAYOUT)
SWEEP_FMT = struct.Struct(SWEEP_LAYOUT)
ENVELOPE_FMT = struct.Struct(ENVELOPE_LAYOUT)
STATUS_FMT = struct.Struct(STATUS_LAYOUT)
LOG_FMT = struct.Struct(LOG_LAYOUT)
REPLY_FMT = struct.Struct(REPLY_LAYOUT)
REMOTEID_FMT = struct.Struct(REMOTEID_LAYOUT)

# Bytes a console-text chunk may hold: printable ASCII, TAB, LF, CR.
CONSOLE_BYTES = bytes(range(0x20, 0x7F)) + b"\t\n\r"


def revisit_reads(codes, flags: int):
    """(held, first, second) of a SWEEP's codes (uint8 arrays, or bytes): per channel the lower
    of its two reads, the first read and the second. A REVISIT sweep carries two codes per
    channel: with PAIRS the first reads then the second reads (held is their minimum, made
    here); without, as older firmware sends them, the held codes then the first reads (second
    is then None: not sent). Any other sweep, one code per channel: held and first, no second."""
    if not flags & FLAG_REVISIT:
        return codes, codes, None
    n = len(codes) // 2
    if not flags & FLAG_PAIRS:
        return codes[:n], codes[len(codes) - n:], None
    import numpy as np
    first, second = codes[:n], codes[len(codes) - n:]
    held = np.minimum(np.frombuffer(first, np.uint8), np.frombuffer(second, np.uint8))
    return (held.tobytes() if isinstance(codes, (bytes, bytearray)) else held), first, second


def read_positions(n: int, flags: int) -> "np.ndarray":
    """Each channel's read position in a sweep of n channels (int64): channel i was read at
    about t_us + position x duration_us / n (docs/protocol.md, SWEEP). Channel order, or with
    INTERLEAVED the position p whose p x interleave_stride(n) % n is i."""
    import numpy as np
    positions = np.arange(n, dtype=np.int64)
    if flags & FLAG_INTERLEAVED:
        positions[positions * interleave_stride(n) % n] = positions.copy()
    return positions


def read_slots(n: int, flags: int, revisit: int = 0) -> "np.ndarray":
    """(2, n) int64: the dwell slot, of a REVISIT sweep's 2n, of each channel's first and second
    read, so that read r of channel i was at t_us + slots[r, i] x duration_us / (2n). With the
    plan's `revisit` block m (docs/firmware.md, "Revisit"): read position p = b + j of the block
    b (r = min(m, n - b) positions) is read in slots 2b + j and 2b + r + j, known to a slot.
    revisit 0 (the plan not known): both at the estimate 2 x position, the read time of
    docs/protocol.md ("at about"), off by up to the block's m dwells."""
    import numpy as np
    position = read_positions(n, flags)
    if revisit <= 0:
        return np.stack([2 * position, 2 * position])
    block = position // revisit * revisit
    first = 2 * block + position - block
    return np.stack([first, first + np.minimum(revisit, n - block)])


@dataclass(slots=True)
class Sweep:
    front_end: int
    flags: int
    sweep_id: int
    start_khz: int
    step_khz: int
    dwell_us: int
    duration_us: int
    first: int
    total: int
    rssi: bytes  # RSSI codes of channels first .. first + len(rssi) - 1

    def codes(self) -> np.ndarray:
        """The RSSI codes as a read-only uint8 array over `rssi` (no copy). REVISIT: two codes
        per channel of the segment (held(), single() and second())."""
        import numpy as np
        return np.frombuffer(self.rssi, np.uint8)

    @property
    def n_channels(self) -> int:
        """Channels in this segment (a REVISIT sweep carries two codes per channel)."""
        return len(self.rssi) // 2 if self.flags & FLAG_REVISIT else len(self.rssi)

    def held(self) -> np.ndarray:
        """Per channel, the code the detector reads: REVISIT, the lower of the two reads."""
        return revisit_reads(self.codes(), self.flags)[0]

    def single(self) -> np.ndarray:
        """Per channel, one plain reading: REVISIT, the first of the two reads."""
        return revisit_reads(self.codes(), self.flags)[1]

    def second(self) -> np.ndarray | None:
        """Per channel, the second reading of a REVISIT sweep with PAIRS; else None."""
        return revisit_reads(self.codes(), self.flags)[2]

    def dbm(self) -> np.ndarray:
        """Per channel, the held() code in dBm (one value per channel, REVISIT or not)."""
        return rssi_code_to_dbm(self.held())

    def freqs_khz(self) -> np.ndarray:
        """Centre frequency of each channel in this frame."""
        import numpy as np
        idx = np.arange(self.first, self.first + self.n_channels, dtype=np.int64)
        return self.start_khz + idx * self.step_khz


@dataclass(slots=True)
class Envelope:
    front_end: int
    flags: int
    block_id: int
    rate_hz: int
    centre_khz: int
    slope_udb: int
    intercept_mdbm: int
    samples: array  # array('H') of raw ADC codes

    def dbm(self) -> np.ndarray:
        import numpy as np
        return envelope_code_to_dbm(np.frombuffer(self.samples, "<u2"), self.slope_udb,
                                    self.intercept_mdbm)


@dataclass(slots=True)
class Status:
    uptime_s: int
    boot_count: int
    reset_cause: int
    mode: int
    mem_free: int
    mem_alloc: int
    overruns: int
    frames_dropped: int
    config_hash: int
    commands_bad: int
    version: str


@dataclass(slots=True)
class Log:
    level: int
    text: str


@dataclass(slots=True)
class Reply:
    request_id: int
    status: int
    text: str  # JSON

    def result(self):
        """The reply's JSON value; raises CommandError if the status is not OK."""
        value = parse_reply_json(self.text)
        if self.status != OK:
            message = value.get("error") if isinstance(value, dict) else None
            raise CommandError(self.request_id, self.status, message or self.text)
        return value


@dataclass(slots=True)
class RemoteId:
    """A Bluetooth advertisement with Remote ID service data, as the node heard it."""

    addr_type: int  # the advertiser's address type (0 public, 1 random, ...)
    rssi_dbm: int
    address: bytes  # 6 bytes, most significant first (as the address is printed)
    data: bytes  # the service data: UUID FA FF, app code 0x0D, counter, message

    def advertising(self) -> bytes:
        """The AD structure (length, type 0x16, service data) straja.remoteid decodes."""
        return bytes((len(self.data) + 1, 0x16)) + self.data

    @property
    def mac(self) -> str:
        return ":".join(f"{b:02x}" for b in self.address)


Body = Union[Sweep, Envelope, Status, Log, Reply, RemoteId, bytes]


@dataclass(slots=True)
class Frame:
    """A decoded frame: the header's fields and the body (raw bytes for an unknown type)."""

    type: int
    node_id: int
    seq: int
    t_us: int
    body: Body


@dataclass(slots=True)
class Console:
    """Text between frames that is not a frame: the REPL or a traceback printing."""

    text: str


class FrameError(ValueError):
    """A single frame that does not decode (decode_frame only; stream decoders never raise)."""


class CommandError(Exception):
    def __init__(self, request_id: int, status: int, message: str):
        super().__init__(f"request {request_id}: {STATUS_NAMES.get(status, status)}: {message}")
        self.request_id = request_id
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------------
# CRC and COBS


CRC_TABLE = crc_table()


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, MSB first, no final XOR (check 0x29B1)."""
    for b in data:
        crc = ((crc << 8) & 0xFF00) ^ CRC_TABLE[(crc >> 8) ^ b]
    return crc


def cobs_encode(data: bytes) -> bytes:
    """COBS (Cheshire & Baker 1999) without delimiters; no empty block after a final full one."""
    return b"".join(_blocks(data))


def _blocks(data: bytes):
    """The encoded blocks: code byte + up to 254 non-zero bytes."""
    i, n = 0, len(data)
    while True:
        j = i
        while j < n and j - i < 254 and data[j] != 0:
            j += 1
        yield bytes([j - i + 1]) + data[i:j]
        if j - i == 254:  # a full block stands for no zero
            if j == n:
                return
            i = j
        elif j < n:  # data[j] is the zero this block stands for
            i = j + 1
        else:
            return


def cobs_decode(chunk: bytes) -> bytes | None:
    """Decode one COBS chunk (no 0x00 in it); None if a block runs past the end."""
    out = bytearray()
    i, n = 0, len(chunk)
    while i < n:
        code = chunk[i]
        end = i + code
        if code == 0 or end > n:
            return None
        out += chunk[i + 1:end]
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Frames


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def parse_body(ftype: int, body: bytes) -> Body | None:
    """The body object of a frame of type `ftype`, None if the body does not fit the type,
    the raw bytes for an unknown type."""
    n = len(body)
    if ftype == SWEEP:
        if n < SWEEP_FMT.size:
            return None
        return Sweep(*SWEEP_FMT.unpack_from(body), bytes(body[SWEEP_FMT.size:]))
    if ftype == ENVELOPE:
        if n < ENVELOPE_FMT.size or (n - ENVELOPE_FMT.size) % 2:
            return None
        return Envelope(*ENVELOPE_FMT.unpack_from(body), array("H", body[ENVELOPE_FMT.size:]))
    if ftype == STATUS:
        if n < STATUS_FMT.size:
            return None
        fields = STATUS_FMT.unpack_from(body)[:-1]  # the reserved u32 is not passed on
        return Status(*fields, _text(body[STATUS_FMT.size:]))
    if ftype == LOG:
        if n < LOG_FMT.size:
            return None
        return Log(body[0], _text(body[1:]))
    if ftype == REPLY:
        if n < REPLY_FMT.size:
            return None
        return Reply(*REPLY_FMT.unpack_from(body), _text(body[REPLY_FMT.size:]))
    if ftype == REMOTEID:
        if not REMOTEID_FMT.size <= n <= REMOTEID_FMT.size + REMOTEID_DATA_MAX:
            return None
        return RemoteId(*REMOTEID_FMT.unpack_from(body), bytes(body[REMOTEID_FMT.size:]))
    return bytes(body)


def decode_frame(raw: bytes) -> Frame:
    """Decode one frame (header, body, CRC; already COBS-decoded). Raises FrameError."""
    if len(raw) < HEADER_LEN + CRC_LEN or len(raw) > MAX_FRAME:
        raise FrameError(f"frame length {len(raw)} outside {HEADER_LEN + CRC_LEN}..{MAX_FRAME}")
    if crc16(raw[:-CRC_LEN]) != int.from_bytes(raw[-CRC_LEN:], "big"):
        raise FrameError("CRC mismatch")
    version, ftype, node_id, seq, t_us = HEADER_FMT.unpack_from(raw)
    if version != VERSION:
        raise FrameError(f"unknown version {version}")
    if t_us >> T_US_BITS:
        raise FrameError(f"t_us {t_us} is not below 2**{T_US_BITS}")
    body = parse_body(ftype, raw[HEADER_LEN:-CRC_LEN])
    if body is None:
        raise FrameError(f"body of {len(raw) - HEADER_LEN - CRC_LEN} bytes does not fit type {ftype}")
    return Frame(ftype, node_id, seq, t_us, body)


def body_bytes(body: Body) -> tuple[int, bytes]:
    """(type, encoded body) of a body object."""
    if isinstance(body, Sweep):
        return SWEEP, SWEEP_FMT.pack(*_fields(body)[:-1]) + bytes(body.rssi)
    if isinstance(body, Envelope):
        return ENVELOPE, ENVELOPE_FMT.pack(*_fields(body)[:-1]) + array("H", body.samples).tobytes()
    if isinstance(body, Status):
        return STATUS, STATUS_FMT.pack(*_fields(body)[:-1], 0) + body.version.encode()
    if isinstance(body, Log):
        return LOG, LOG_FMT.pack(body.level) + body.text.encode()
    if isinstance(body, Reply):
        return REPLY, REPLY_FMT.pack(body.request_id, body.status) + body.text.encode()
    if isinstance(body, RemoteId):
        return REMOTEID, REMOTEID_FMT.pack(*_fields(body)[:-1]) + bytes(body.data)
    raise TypeError(f"not a frame body: {type(body).__name__}")


def _fields(obj) -> tuple:
    return tuple(getattr(obj, f) for f in obj.__dataclass_fields__)


def frame_to_json(frame: Frame) -> dict:
    """A frame as JSON-ready values (RSSI codes and raw bodies as hex), e.g. for logs and the
    test vectors."""
    body = frame.body
    if isinstance(body, (bytes, bytearray)):
        fields = {"raw": bytes(body).hex()}
    else:
        fields = dict(zip(body.__dataclass_fields__, _fields(body)))
        if isinstance(body, Sweep):
            fields["rssi"] = body.rssi.hex()
        elif isinstance(body, Envelope):
            fields["samples"] = list(body.samples)
        elif isinstance(body, RemoteId):
            fields["address"] = body.address.hex()
            fields["data"] = body.data.hex()
    return {"type": frame.type, "node_id": frame.node_id, "seq": frame.seq, "t_us": frame.t_us,
            "body": fields}


def frame_bytes(frame: Frame) -> bytes:
    """Header + body + CRC of `frame` (its `type` is taken from the body unless the body is raw)."""
    if isinstance(frame.body, (bytes, bytearray)):
        ftype, body = frame.type, bytes(frame.body)
    else:
        ftype, body = body_bytes(frame.body)
    raw = HEADER_FMT.pack(VERSION, ftype, frame.node_id, frame.seq, frame.t_us) + body
    if len(raw) + CRC_LEN > MAX_FRAME:
        raise ValueError(f"frame of {len(raw) + CRC_LEN} bytes exceeds MAX_FRAME")
    return raw + crc16(raw).to_bytes(2, "big")


def encode_frame(frame: Frame) -> bytes:
    """The wire bytes of one frame: 0x00 COBS(frame) 0x00."""
    return b"\0" + cobs_encode(frame_bytes(frame)) + b"\0"


# ---------------------------------------------------------------------------------------------
# Units


def rssi_code_to_dbm(code):
    """RSSI code (0..255, 0.5 dB per step) to dBm: code / 2 - 140."""
    import numpy as np
    return np.asarray(code, dtype=np.float64) / 2.0 - 140.0


def dbm_to_rssi_code(dbm):
    """dBm to the nearest RSSI code, clipped to 0..255."""
    import numpy as np
    code = np.rint((np.asarray(dbm, dtype=np.float64) + 140.0) * 2.0)
    return np.clip(code, 0, RSSI_CODE_MAX).astype(np.uint8)


def envelope_code_to_dbm(code, slope_udb: int, intercept_mdbm: int):
    """Detector ADC code to dBm with the node's calibration: intercept + code * slope."""
    import numpy as np
    return intercept_mdbm / 1000.0 + np.asarray(code, dtype=np.float64) * (slope_udb / 1e6)


# ---------------------------------------------------------------------------------------------
# Streaming decoder


COUNTER_NAMES = ("bytes_in", "frames", "corrupt", "oversize", "console_bytes", "console_lines",
                 "duplicates", "lost", "reordered", "restarts", "unknown")


def counters(decoder) -> dict:
    """All counters of a stream decoder (reference or compiled), lost_by_node included."""
    out = {name: getattr(decoder, name) for name in COUNTER_NAMES}
    out["lost_by_node"] = dict(decoder.lost_by_node)
    return out


class SeqTracker:
    """Per-node sequence numbers extended to losses, duplicates, reordering and restarts.

    docs/protocol.md, Header: a forward step of k in 1..32767 counts k - 1 lost frames; a step of
    0 is a duplicate (the frame is dropped); a backward step is counted as reordered and does not
    move the reference, unless it comes with a restart. A restart is a STATUS frame whose
    boot_count differs from, or whose t_us is below, the node's previous STATUS: the node's
    reference then starts again at that frame.
    """

    def __init__(self):
        self._last: dict[int, int] = {}
        self._boot: dict[int, tuple[int, int]] = {}
        self.lost_by_node: dict[int, int] = {}
        self.duplicates = 0
        self.reordered = 0
        self.restarts = 0

    @property
    def lost(self) -> int:
        return sum(self.lost_by_node.values())

    def accept(self, node_id: int, seq: int, t_us: int, boot_count: int) -> bool:
        """Track one frame; False means it is a duplicate to drop. boot_count is -1 unless the
        frame is a STATUS."""
        if boot_count >= 0:
            prev = self._boot.get(node_id)
            self._boot[node_id] = (boot_count, t_us)
            if prev is not None and (prev[0] != boot_count or t_us < prev[1]):
                self.restarts += 1
                self._last[node_id] = seq
                return True
        last = self._last.get(node_id)
        if last is None:
            self._last[node_id] = seq
            return True
        step = (seq - last) & 0xFFFF
        if step == 0:
            self.duplicates += 1
            return False
        if step < 0x8000:
            if step > 1:
                self.lost_by_node[node_id] = self.lost_by_node.get(node_id, 0) + step - 1
            self._last[node_id] = seq
        else:
            self.reordered += 1
        return True


class TrackerCounters:
    """The SeqTracker's counters as the decoder's own attributes."""

    tracker: SeqTracker

    duplicates = property(lambda self: self.tracker.duplicates)
    lost = property(lambda self: self.tracker.lost)
    lost_by_node = property(lambda self: self.tracker.lost_by_node)
    reordered = property(lambda self: self.tracker.reordered)
    restarts = property(lambda self: self.tracker.restarts)


class ReferenceDecoder(TrackerCounters):
    """Bytes in, events out: `Frame` and `Console` objects, in stream order. Never raises.

    Rules (docs/protocol.md, Framing): chunks end at 0x00; empty chunks are ignored; more than
    MAX_ENCODED bytes without a 0x00 count one oversize and are discarded up to and including the
    next 0x00; a chunk of console bytes only is console text; anything else that does not decode
    is corrupt; frames pass the SeqTracker (duplicates are dropped); unknown types are counted
    and passed on with their raw body.
    """

    def __init__(self):
        self.tracker = SeqTracker()
        self._acc = bytearray()
        self._discarding = False
        self.bytes_in = 0
        self.frames = 0
        self.corrupt = 0
        self.oversize = 0
        self.console_bytes = 0
        self.console_lines = 0
        self.unknown = 0

    def feed(self, data: bytes) -> list:
        data = bytes(data)
        self.bytes_in += len(data)
        events: list = []
        pos, n = 0, len(data)
        while pos < n:
            zero = data.find(0, pos)
            end = n if zero < 0 else zero
            if not self._discarding:
                self._acc += data[pos:end]
                if len(self._acc) > MAX_ENCODED:
                    self.oversize += 1
                    self._acc.clear()
                    self._discarding = True
            if zero < 0:
                break
            if self._discarding:
                self._discarding = False
            elif self._acc:
                self._chunk(bytes(self._acc), events)
                self._acc.clear()
            pos = zero + 1
        return events

    def _chunk(self, chunk: bytes, events: list) -> None:
        if not chunk.translate(None, CONSOLE_BYTES):
            self.console_bytes += len(chunk)
            self.console_lines += chunk.count(b"\n")
            events.append(Console(chunk.decode("ascii")))
            return
        try:
            frame = decode_frame(cobs_decode(chunk) or b"")  # None (bad COBS) fails as too short
        except FrameError:
            self.corrupt += 1
            return
        boot = frame.body.boot_count if frame.type == STATUS else -1
        if not self.tracker.accept(frame.node_id, frame.seq, frame.t_us, boot):
            return
        if frame.type in TYPE_NAMES:
            self.frames += 1
        else:
            self.unknown += 1
        events.append(frame)


# ---------------------------------------------------------------------------------------------
# Command lines (host to node)

_VERB = re.compile(r"[a-z_-]{1,16}")


def format_command(request_id: int, verb: str, args: str | None = None) -> bytes:
    """One command line `id SP verb [SP args] LF`; raises ValueError if it breaks the grammar."""
    if not 1 <= request_id <= 65535:
        raise ValueError(f"request id {request_id} outside 1..65535")
    if not _VERB.fullmatch(verb):
        raise ValueError(f"verb {verb!r} is not 1..16 of a-z, '-', '_'")
    line = f"{request_id} {verb}" + (f" {args}" if args else "")
    if any(not 0x20 <= ord(c) <= 0x7E for c in line):
        raise ValueError("command lines are printable ASCII only (0x20..0x7E)")
    out = line.encode("ascii") + b"\n"
    if len(out) > MAX_LINE:
        raise ValueError(f"command line of {len(out)} bytes exceeds MAX_LINE ({MAX_LINE})")
    return out


def parse_reply_json(text: str):
    """A reply's JSON text as a value; text that is not JSON (or nests too deep for Python's
    parser: a crafted reply) becomes {"error": text}."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return {"error": text}
