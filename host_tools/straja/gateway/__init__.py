"""The gateway service: nodes in, fused drone alerts out (docs/gateway.md).

Pure processing (`pipeline.Pipeline`: raw byte chunks with arrival times in, events out) is kept
apart from I/O (`ingest`, `store`, `mqtt`, `record`), so a replay gives the alerts a live run gave.
"""
