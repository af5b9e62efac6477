"""The fast protocol v1 stream decoder: `Decoder`, compiled from src_cython/_framing.pyx, and the
gateway readers' `FrameSplitter` (its reference: `straja.gateway.ingest.ReferenceSplitter`) and
`wait_ready` (their wait between rounds: a sleep and epoll, the GIL given up once), with
`PORT_EVENTS` (how they register a port with that epoll: edge-triggered).

`Decoder`: same interface, events and counters as `straja.protocol.ReferenceDecoder`. There is no slow
fallback: without the compiled module, importing this raises ImportError.
"""
try:
    from straja._framing import PORT_EVENTS, Decoder, FrameSplitter, wait_ready
except ImportError as exc:  # pragma: no cover - depends on the build
    raise ImportError(
        "straja._framing (the compiled protocol decoder) is missing: run `make` in the "
        "repository root (or `.venv/bin/python setup.py build_ext --inplace`)"
    ) from exc

__all__ = ["PORT_EVENTS", "Decoder", "FrameSplitter", "wait_ready"]
