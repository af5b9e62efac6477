"""RF front-end drivers. Each talks to buses from straja_node.hw and exposes the hardware-layer
contract (docs/architecture.md): name, kind, band_khz, settle_us, tune(freq_khz), rssi_code(),
selftest(); integer arithmetic only and no allocation per reading. Each declares its facts as
module constants (BAND_KHZ, SETTLE_US, FILTER_KHZ...), which the host's catalogue of front-end
kinds (straja.frontends) reads, and takes time from straja_node.clock, so it runs on CPython too."""
