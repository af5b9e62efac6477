"""A write-only 3-wire serial bus bit-banged on GPIO pins, as the RX5808 (RTC6715) takes it.

RTC6715 datasheet, "3-wire SPI": with the SPI_SE pin high the module's CH1, CH2 and CH3 pins
are DATA, LE and CLK. A frame starts with LE low, the chip samples DATA on each rising CLK edge,
least significant bit first, and latches the frame when LE goes high again. The chip is slow
(RotorHazard and rx5808-pro-diversity clock it at a few hundred kHz); a MicroPython pin toggle
takes microseconds, so no extra delay is needed.
"""


class ThreeWire:
    def __init__(self, data, clk, le):
        self.data = data
        self.clk = clk
        self.le = le
        clk.value(0)
        le.value(1)

    def write_word(self, word, nbits):
        """Shift the low `nbits` bits of `word` out LSB first inside one LE pulse."""
        data = self.data
        clk = self.clk
        self.le.value(0)
        for i in range(nbits):
            data.value((word >> i) & 1)
            clk.value(1)
            clk.value(0)
        self.le.value(1)
