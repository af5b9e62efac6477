"""The compiled decoder's CRC-16 (straja._framing): whole 16-byte blocks folded by PCLMULQDQ
where the CPU has it, the rest by the tables; and the tables alone. Both against the reference
CRC (straja.protocol.crc16) on every length around the fold's blocks, and the decoder on a
stream with each."""
import contextlib

import numpy as np
import pytest

from straja import _framing
from straja import protocol as P
from straja.framing import Decoder

from test_protocol_decoder import sweep, wire


@contextlib.contextmanager
def crc_path(clmul):
    used = _framing.crc16_use_clmul(clmul)
    if clmul and not used:
        pytest.skip("no PCLMULQDQ on this CPU")
    try:
        yield
    finally:
        _framing.crc16_use_clmul(True)


PATHS = pytest.mark.parametrize("clmul", [True, False], ids=["clmul", "tables"])


@PATHS
def test_crc_equals_the_reference_at_every_length(clmul):
    rng = np.random.default_rng(1)
    with crc_path(clmul):
        for n in [*range(0, 100), 255, 256, 621, 1023, P.MAX_FRAME - 2, P.MAX_FRAME]:
            for data in (rng.integers(0, 256, n, np.uint8).tobytes(), b"\xff" * n, bytes(n)):
                assert _framing.crc16(data) == P.crc16(data), n


@PATHS
def test_decoder_checks_frames_by_either_path(clmul):
    """Frames of every length to 600 bytes decode; one with a flipped bit in its body does not."""
    frames = [sweep(n, bytes(range(256)) * 2 + bytes(n % 89)) for n in range(0, 88)]
    stream = wire(*frames)
    bad = bytearray(wire(frames[40]))
    bad[300] ^= 0x10
    with crc_path(clmul):
        dec = Decoder()
        assert dec.feed(stream) == frames and dec.corrupt == 0
        assert dec.feed(bytes(bad)) == [] and dec.corrupt == 1
