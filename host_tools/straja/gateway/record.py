"""Recordings of raw node streams with arrival times (format in docs/gateway.md, "Recordings").

    file    = MAGIC version:u8 header_len:u32 header:JSON record*
    record  = kind:u8 source:u16 t_ns:i64 len:u32 data:u8[len]      (little-endian)
    kind    = 1 OPEN   (data: UTF-8 name of the source, e.g. its device path; defines `source`)
              2 DATA   (data: bytes as read from the port)
              3 CLOSE  (data empty: the port went away)

Raw bytes rather than decoded frames, so a replay runs the very decoder a live run ran and console
text, corruption and losses come back as they were. Shared with `straja monitor --record`.
"""
from __future__ import annotations

import json
import os
import struct
from typing import BinaryIO, Iterator, NamedTuple

from .. import term
from ..errors import StrajaError

MAGIC = b"STRAJREC"
VERSION = 1
OPEN, DATA, CLOSE = 1, 2, 3
KINDS = (OPEN, DATA, CLOSE)
RECORD = struct.Struct("<BHqI")
_PREFIX = struct.Struct("<BI")
MAX_HEADER = 1 << 20  # a header is a small JSON object (the tool and its ports)
# a record holds one read of a port (the gateway's reads are at most 64 KiB): a length far above
# that is damage, refused before it is read (a 4 GiB read would be a 4 GiB allocation)
MAX_DATA = 1 << 24
# arrival times are ns since the Unix epoch (time.time_ns()), below 2**62 (the year 2116): with
# a node's times (below 2**51 µs, straja_node.wire.T_US_BITS) every sum and difference the
# gateway makes of them (clock offsets, SQLite's columns) fits a 64-bit integer
T_NS_MAX = 1 << 62


class Record(NamedTuple):
    kind: int
    source: str
    t_ns: int
    data: bytes


class RecordWriter:
    """Append records; flushes after each so a crash loses at most the last write."""

    def __init__(self, path, header: dict | None = None):
        self._f: BinaryIO = open(path, "wb")
        head = json.dumps(header or {}, sort_keys=True).encode()
        self._f.write(MAGIC + _PREFIX.pack(VERSION, len(head)) + head)
        self._ids: dict[str, int] = {}

    def _write(self, kind: int, sid: int, t_ns: int, data: bytes) -> None:
        self._f.write(RECORD.pack(kind, sid, t_ns, len(data)) + data)
        self._f.flush()

    def open(self, source: str, t_ns: int) -> None:
        sid = self._ids.setdefault(source, len(self._ids))
        self._write(OPEN, sid, t_ns, source.encode())

    def data(self, source: str, t_ns: int, data: bytes) -> None:
        if source not in self._ids:
            self.open(source, t_ns)
        self._write(DATA, self._ids[source], t_ns, bytes(data))

    def close_source(self, source: str, t_ns: int) -> None:
        if source in self._ids:
            self._write(CLOSE, self._ids[source], t_ns, b"")

    def close(self) -> None:
        self._f.close()


class RecordingError(StrajaError, ValueError):
    """A file that is not a recording, or a damaged one (a command's exit code 2)."""

    CODE = term.EXIT_USAGE
    FIX = "name a recording made by `straja gateway --record` or `straja monitor --record`"


def read(path) -> tuple[dict, Records]:
    """(header, records) of a recording; a record cut short at the end (a crash) is ignored
    (and its offset kept: Records.cut_at)."""
    f = open(path, "rb")
    if f.read(len(MAGIC)) != MAGIC:
        f.close()
        raise RecordingError(f"{path} is not a Straja recording")
    prefix = f.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size:
        f.close()
        raise RecordingError(f"{path}: the recording ends inside its header")
    version, n = _PREFIX.unpack(prefix)
    if version != VERSION:
        f.close()
        raise RecordingError(f"{path}: recording version {version}, this reader knows {VERSION}")
    try:
        header = json.loads(f.read(min(n, MAX_HEADER)))
        if n > MAX_HEADER or not isinstance(header, dict):
            raise ValueError("not a JSON object of a header's size")
    except (ValueError, RecursionError) as e:
        f.close()
        raise RecordingError(f"{path}: its header is damaged ({e})") from None
    return header, Records(f, path)


class Records:
    """A recording's records, read once in order; then `cut_at` is the byte offset of a record
    cut short at the end (a crash while writing: ignored), else None, and `unknown` the number
    of records of a kind this reader does not know (skipped)."""

    def __init__(self, f: BinaryIO, path):
        self._f, self._path = f, path
        self.cut_at: int | None = None
        self.unknown = 0

    def check(self) -> None:
        """Walk every record's head, skipping its data: a damaged record is a RecordingError
        now, before anything is replayed (a replay stopped by it half-way would have written
        the events before it; a technician mends or drops the file, then replays it whole)."""
        start = self._f.tell()
        for *_, size in self._heads():
            self._f.seek(size, os.SEEK_CUR)
        self._f.seek(start)

    def _heads(self) -> Iterator[tuple[int, int, int, int]]:
        """(kind, source id, t_ns, size) of each whole record of a known kind, the file then at
        its data, which the caller reads or skips; sets cut_at and unknown."""
        f = self._f
        end = os.fstat(f.fileno()).st_size
        self.cut_at, self.unknown = None, 0
        while True:
            at = f.tell()
            head = f.read(RECORD.size)
            if len(head) < RECORD.size:
                self.cut_at = at if head else None
                return
            kind, sid, t_ns, size = RECORD.unpack(head)
            if size > MAX_DATA or not 0 <= t_ns < T_NS_MAX:
                raise RecordingError(
                    f"{self._path}: the record at byte {at} is {size} bytes (at most {MAX_DATA}) "
                    f"at {t_ns} ns (0 to 2**62): the recording is damaged")
            if at + RECORD.size + size > end:
                self.cut_at = at
                return
            if kind not in KINDS:  # (a later writer's, as a frame type a receiver lacks)
                self.unknown += 1
                f.seek(size, os.SEEK_CUR)
                continue
            yield kind, sid, t_ns, size

    def __iter__(self) -> Iterator[Record]:
        names: dict[int, str] = {}
        with self._f as f:
            for kind, sid, t_ns, size in self._heads():
                data = f.read(size)
                if kind == OPEN:  # (a name that is not UTF-8 is kept readable, not refused)
                    names[sid] = data.decode(errors="replace")
                yield Record(kind, names.get(sid, str(sid)), t_ns, data)
