"""Signal detection core: linear power in, detections, bursts, tracks and link families out.

Modules: `noise` (RSSI codes to mW, noise floor), `cfar` (CFAR design from a Pfa, kernels across
frequency and time), `bursts` (bursts, pulses), `tracks` (hop tracking, life cycle, features),
`classify` (link families), `pipeline` (all of it per node front end), `reference` (plain NumPy
references). The compiled kernels are straja._cfar, _detect_noise, _detect_bursts and _tracks.
docs/detection.md describes the detector.
"""
