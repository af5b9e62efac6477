"""RF front-end drivers. Each talks to buses from straja_node.hw and exposes the hardware-layer
contract (docs/architecture.md): name, kind, band_khz, settle_us, tune(freq_khz), rssi_code(),
selftest(); integer arithmetic only and no allocation per reading."""
