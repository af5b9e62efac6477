"""The wire constants have one definition, firmware/straja_node/wire.py, and everything agrees with
it: the same module under MicroPython, the host's straja.protocol, the compiled decoder (built
with them by setup.py), every other module (none defines a wire constant's name again) and the
tables of docs/protocol.md. The CRC table is checked against the polynomial and binascii."""
import ast
import binascii
import json
import math
import random
import re
from pathlib import Path

import pytest

from straja import _framing
from straja import protocol as P
from straja.framing import Decoder
from straja.mp import run_micropython
from straja.paths import FIRMWARE
from straja_node import wire

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "protocol.md").read_text()
WIRE_PY = FIRMWARE / "straja_node" / "wire.py"


def wire_constants() -> dict:
    return {k: v for k, v in vars(wire).items() if k.isupper()}


def wire_ints() -> dict[str, int]:
    return {k: v for k, v in wire_constants().items() if type(v) is int}


# ---------------------------------------------------------------------------------------------
# One definition


def test_micropython_folds_the_same_values():
    """wire.py under MicroPython (const() and its expressions) gives the values CPython does."""
    code = ("import json\nfrom straja_node import wire\n"
            "print(json.dumps({k: getattr(wire, k) for k in dir(wire) if k.isupper()}))\n")
    got = json.loads(run_micropython(code, path=[FIRMWARE]).stdout)
    assert got == wire_constants()


def test_host_protocol_re_exports_the_wire_module():
    for name, value in wire_constants().items():
        if hasattr(P, name):
            assert getattr(P, name) == value, name
    assert P.CRC_TABLE == wire.crc_table()


def test_compiled_decoder_was_built_with_these_constants():
    """setup.py writes wire.py into src_cython/_wire.pxi; a wire.py changed since the build
    fails here until `setup.py build_ext --inplace` (make) runs again."""
    assert _framing.WIRE == wire_ints()


# Same names, other facts: (module, name) -> what it is
OTHER_FACTS = {
    ("cc2500", "VERSION"): "the chip's VERSION register address",
    ("sx127x", "VERSION"): "the chip's version register address",
    ("record", "VERSION"): "the recording file format's version",
    ("server", "OK"): "the virtual board socket's reply status",
}


def _int_assignments(path) -> set[str]:
    """Names a module binds to an integer expression by plain assignment, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
        if not any(isinstance(c, ast.Constant) and type(c.value) is int
                   for v in values for c in ast.walk(v)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            names.update(n.id for n in (t.elts if isinstance(t, ast.Tuple) else [t])
                         if isinstance(n, ast.Name))
    return names


def test_no_module_defines_a_wire_constant_again():
    """Every firmware and host module takes wire constants from straja_node.wire: a module that
    assigns a number to one of their names, or spells a struct layout again, keeps a copy."""
    sources = [p for p in FIRMWARE.rglob("*.py") if p != WIRE_PY]
    sources += list((REPO / "host_tools" / "straja").rglob("*.py"))
    assert len(sources) > 40
    copies = {(p.stem, name) for p in sources for name in _int_assignments(p) & set(wire_ints())}
    assert copies - set(OTHER_FACTS) == set()
    layouts = {v for v in wire_constants().values() if type(v) is str}
    assert {(p.stem, c.value) for p in sources for c in ast.walk(ast.parse(p.read_text()))
            if isinstance(c, ast.Constant) and c.value in layouts} == set()
    pyx = (REPO / "src_cython" / "_framing.pyx").read_text()
    assert "cdef enum" not in pyx and "0x1021" not in pyx


# ---------------------------------------------------------------------------------------------
# docs/protocol.md


def table_after(heading: str) -> list[list[str]]:
    """The rows (cells stripped, header and rule excluded) of the first table after `heading`."""
    lines = DOC[DOC.index(heading):].splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


SIZE_FORMATS = {"u8": "B", "i8": "b", "u16": "H", "u32": "I", "u64": "Q", "i32": "i"}
SIZES = {"B": 1, "b": 1, "H": 2, "I": 4, "Q": 8, "i": 4}


def layout(rows) -> tuple[str, int]:
    """(struct format, fixed size) of a field table: offset, size, field, ...; the fixed part
    ends at a variable field (`u8[n]`, `u16[n]`); `u8[6]` is a fixed run of 6 bytes."""
    fmt, at = "<", 0
    for row in rows:
        offset, size = int(row[0]), row[1]
        assert offset == at, row
        fixed = re.fullmatch(r"u8\[(\d+)\]", size)
        if fixed:
            fmt += fixed.group(1) + "s"
            at += int(fixed.group(1))
            continue
        if "[" in size:
            break
        fmt += SIZE_FORMATS[size]
        at += SIZES[SIZE_FORMATS[size]]
    return fmt, at


def test_frame_types_table():
    rows = table_after("### Frame types")
    assert {name: int(t, 16) for t, name, _ in rows} == {
        name: getattr(wire, name) for name in P.TYPE_NAMES.values()}
    assert {int(t, 16): name for t, name, _ in rows} == P.TYPE_NAMES


def test_header_table():
    rows = table_after("### Header")
    assert layout(rows) == (P.HEADER_FMT.format, wire.HEADER_LEN)
    assert f"({wire.HEADER_LEN} bytes)" in DOC[DOC.index("### Header"):][:40]
    assert rows[0][3] == f"protocol version, {wire.VERSION}"


@pytest.mark.parametrize("name", ["SWEEP", "ENVELOPE", "STATUS", "LOG", "REPLY", "REMOTEID"])
def test_body_tables(name):
    heading = re.search(rf"#### {name} \(0x([0-9A-F]{{2}})\), body (\d+) \+", DOC)
    assert int(heading.group(1), 16) == getattr(wire, name)
    fixed = getattr(wire, name + "_BODY")
    assert int(heading.group(2)) == fixed
    assert layout(table_after(heading.group(0))) == (getattr(P, name + "_FMT").format, fixed)


def _numbered(cell: str) -> dict[int, str]:
    """`(0 power-on, 1 hard reset, 255 unknown)` or `10 debug, 20 info` -> {code: words}."""
    return {int(n): words.strip() for n, words in re.findall(r"(\d+) ([a-z][a-z -]*)", cell)}


def test_status_codes_tables():
    rows = {row[2].split(" ")[0]: row[2] for row in table_after("#### STATUS")}
    assert _numbered(rows["reset_cause"]) == P.RESET_CAUSES
    assert P.RESET_CAUSES[wire.RESET_UNKNOWN] == "unknown"
    assert _numbered(rows["mode"]) == P.MODES
    levels = _numbered(table_after("#### LOG")[0][2])
    assert levels == {wire.LOG_DEBUG: "debug", wire.LOG_INFO: "info",
                      wire.LOG_WARNING: "warning", wire.LOG_ERROR: "error"}


def test_reply_status_table():
    rows = table_after("| status | name | when |")
    assert {int(code): name for code, name, _ in rows} == P.STATUS_NAMES
    assert {name: int(code) for code, name, _ in rows} == {
        name: getattr(wire, name) for name in P.STATUS_NAMES.values()}


def test_flag_bits():
    sweep_flags = table_after("#### SWEEP")[1][3]
    envelope_flags = table_after("#### ENVELOPE")[1][3]
    for text, names in ((sweep_flags, ["OVERRUN", "SATURATED", "REVISIT", "PAIRS", "INTERLEAVED"]),
                        (envelope_flags, ["OVERRUN", "SATURATED"])):
        bits = {name: 1 << int(bit) for bit, name in re.findall(r"bit (\d) ([A-Z]+)", text)}
        assert bits == {name: getattr(wire, "FLAG_" + name) for name in names}


def test_sizes_and_crc_in_the_text():
    assert f"`MAX_FRAME = {wire.MAX_FRAME}`" in DOC
    assert f"2048 + 9 = {wire.MAX_ENCODED} bytes (`MAX_ENCODED`)" in DOC
    assert f"`MAX_WIRE = {wire.MAX_WIRE}`" in DOC
    assert f"`MAX_LINE = {wire.MAX_LINE}`" in DOC
    assert f"more than {wire.MAX_SWEEP_CODES} channels" in DOC
    assert f"{wire.MAX_SWEEP_CODES // 2} for REVISIT" in DOC
    assert f"at most {wire.MAX_ENVELOPE_SAMPLES} samples" in DOC
    assert f"code {wire.RSSI_CODE_MAX} means" in DOC
    assert (f"polynomial 0x{wire.CRC_POLY:04X}, initial value 0x{wire.CRC_INIT:04X}" in DOC
            and f"check value 0x{wire.CRC_CHECK:04X}" in DOC)


# ---------------------------------------------------------------------------------------------
# CRC


def bitwise_crc(data: bytes, crc: int) -> int:
    """CRC-16, MSB first, one bit at a time from the polynomial: no table."""
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ wire.CRC_POLY) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def test_crc_table_is_the_polynomial():
    assert wire.CRC_POLY == 0x1021 and wire.CRC_INIT == 0xFFFF  # CRC-16/CCITT-FALSE
    assert list(wire.crc_table()) == [bitwise_crc(bytes([i]), 0) for i in range(256)]
    # binascii.crc_hqx: CPython's own CRC-CCITT (poly 0x1021, MSB first) from a given start
    assert [binascii.crc_hqx(bytes([i]), 0) for i in range(256)] == list(wire.crc_table())


def test_crc_of_every_side_agrees_with_binascii():
    rng = random.Random(13)
    payloads = [b"123456789"] + [rng.randbytes(n) for n in (0, 1, 7, 8, 9, 15, 16, 17, 255, 2030)]
    want = [binascii.crc_hqx(p, wire.CRC_INIT) for p in payloads]
    assert want[0] == wire.CRC_CHECK
    assert [P.crc16(p) for p in payloads] == want
    assert [bitwise_crc(p, wire.CRC_INIT) for p in payloads] == want
    # the compiled decoder's slicing-by-8 CRC: a LOG frame whose CRC is binascii's decodes, the
    # same frame with that CRC off by one is corrupt
    for n in (0, 1, 7, 8, 9, 15, 16, 17, 255, 2000):
        head = P.frame_bytes(P.Frame(P.LOG, 1, n, 0, P.Log(20, "x" * n)))[:-wire.CRC_LEN]
        for delta, frames, corrupt in ((0, 1, 0), (1, 0, 1)):
            crc = (binascii.crc_hqx(head, wire.CRC_INIT) + delta) & 0xFFFF
            dec = Decoder()
            dec.feed(b"\0" + P.cobs_encode(head + crc.to_bytes(2, "big")) + b"\0")
            assert (dec.frames, dec.corrupt) == (frames, corrupt), n


def test_interleaved_order_and_its_read_positions():
    """interleave_stride(n): coprime with n (position p -> channel p s mod n is a permutation),
    the nearest such to the golden section of n; read_positions inverts that order, and is the
    channel order without the flag (docs/protocol.md, SWEEP)."""
    golden = (3 - 5 ** 0.5) / 2
    for n in range(1, 300):
        s = wire.interleave_stride(n)
        assert math.gcd(s, n) == 1 and 1 <= s <= max(n - 1, 1)
        coprime = [t for t in range(1, max(n, 2)) if math.gcd(t, n) == 1]
        assert abs(s - n * golden) == min(abs(t - n * golden) for t in coprime)
        pos = P.read_positions(n, P.FLAG_INTERLEAVED)
        assert sorted(pos.tolist()) == list(range(n))
        assert all(pos[p * s % n] == p for p in range(n))
        assert P.read_positions(n, P.FLAG_REVISIT | P.FLAG_PAIRS).tolist() == list(range(n))
    assert wire.interleave_stride(64) == 25  # the CC2500's default plan, docs/protocol.md


def test_micropython_computes_the_same_strides():
    code = ("from straja_node.wire import interleave_stride\n"
            "print([interleave_stride(n) for n in range(1, 130)])\n")
    got = json.loads(run_micropython(code, path=[FIRMWARE]).stdout)
    assert got == [wire.interleave_stride(n) for n in range(1, 130)]
