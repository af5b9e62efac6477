"""The node's Remote ID receiver (firmware/straja_node/remoteid.py) under the MicroPython unix
port: its IRQ handler keeps only Remote ID service data (UUID 0xFFFA, app code 0x0D), out of
memoryviews the stack reuses at once; the main loop sends REMOTEID frames that both host decoders
read back to the advertisement; a full ring counts drops; the steady state allocates nothing
(gc.mem_alloc() with the collector off, then a run with the heap locked)."""
import json

import pytest

from straja import protocol as P
from straja.framing import Decoder
from straja.mp import run_micropython
from straja.paths import FIRMWARE, REPO
from straja.remoteid import decode_payload
from straja.sim import remoteid as sim_rid

HELPERS = REPO / "tests" / "firmware_app"
LOCATION = sim_rid.location(44.4268, 26.1025, 120.0, speed_horizontal=12.5, direction=270,
                            timestamp=1234.5)
BASIC = sim_rid.basic_id("1596F35A7B3C4D")
CASES = [
    # addr_type, address, rssi, advertising data
    [1, "c01122334455", -67, sim_rid.advertising(LOCATION, 7).hex()],
    [0, "0a0b0c0d0e0f", -101, sim_rid.advertising(BASIC, 8).hex()],
    # other structures (flags, other service data), a wrong application code, a truncated
    # structure: not kept
    [1, "c01122334455", -50, "0201060516aabb0102"],
    [1, "c01122334455", -50, "1e16faff0e00" + LOCATION.hex()],
    [1, "c01122334455", -50, "1e16faff0d00" + LOCATION[:10].hex()],
]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    cases = tmp_path_factory.mktemp("rid") / "cases.json"
    cases.write_text(json.dumps(CASES))
    out = run_micropython(HELPERS / "remoteid_check.py", args=[str(cases)], path=[FIRMWARE],
                          heap="256K").stdout
    return json.loads(out)


@pytest.mark.parametrize("decoder", [P.ReferenceDecoder, Decoder])
def test_kept_advertisements_arrive_as_remoteid_frames(result, decoder):
    frames = decoder().feed(bytes.fromhex(result["wire"]))
    assert [f.type for f in frames] == [P.REMOTEID, P.REMOTEID]
    assert result["heard"] == 2 and result["dropped"] == 0
    first, second = (f.body for f in frames)
    assert (first.addr_type, first.rssi_dbm, first.mac) == (1, -67, "c0:11:22:33:44:55")
    assert (second.addr_type, second.rssi_dbm, second.address.hex()) == (0, -101, "0a0b0c0d0e0f")
    location = decode_payload(first.advertising())
    assert location["type"] == "location" and location["counter"] == 7
    assert location["latitude"] == pytest.approx(44.4268) and location["direction"] == 270
    assert decode_payload(second.advertising())["uas_id"] == "1596F35A7B3C4D"
    assert frames[0].t_us <= frames[1].t_us
    assert frames[0].node_id == 9


def test_scans_continuously_and_passively(result):
    assert result["scan"] == [0, 30000, 30000, False]


def test_a_full_ring_counts_what_it_drops(result):
    assert result["overflow_dropped"] == 4  # SLOTS + 3 heard, SLOTS - 1 slots usable


def test_steady_state_allocates_nothing(result):
    assert result["grown"] == 0, result
    assert result["locked_ok"], result
    assert result["frames_counted"] == 20 + 200 + 200
