# The Remote ID receiver (straja_node.remoteid) under MicroPython with a stand-in Bluetooth stack
# that calls its IRQ handler as a board's does: the _IRQ_SCAN_RESULT tuple, address and data as
# memoryviews into one buffer that the next advertisement overwrites. Prints JSON: the wire bytes
# (hex), counters, and the heap growth and heap-locked run of the steady state
# (tests/test_firmware_remoteid.py). Argument: a JSON file of the advertisements to hear.
# MICROPYPATH holds firmware/.
import gc
import json
import sys
from binascii import hexlify, unhexlify

import micropython

from straja_node.clock import Clock
from straja_node.frame import FrameWriter
from straja_node.remoteid import SLOTS, Receiver

OUT = bytearray()
COUNT = [0]


def keep(buf, n):
    OUT.extend(memoryview(buf)[:n])
    return n


def count(buf, n):
    COUNT[0] += 1
    return n


class Stack:
    """bluetooth.BLE's scanning calls; `hear` plays an advertisement into the handler."""

    def __init__(self):
        self.buf = bytearray(6 + 31)
        self.view = memoryview(self.buf)
        self.scan = None

    def active(self, on=None):
        return True

    def irq(self, handler):
        self.handler = handler

    def gap_scan(self, duration_ms, interval_us, window_us, active):
        self.scan = (duration_ms, interval_us, window_us, active)

    def event(self, addr_type, address, rssi, adv):
        """The IRQ's argument tuple, made before the handler runs (a board's stack makes it)."""
        b = self.buf
        b[0:6] = address
        b[6:6 + len(adv)] = adv
        return (addr_type, self.view[0:6], 0, rssi, self.view[6:6 + len(adv)])


def ad(data):
    return bytes([len(data) + 1, 0x16]) + data


def main():
    with open(sys.argv[1]) as f:  # a file: the unix port fails on a long argument
        cases = json.loads(f.read())
    stack = Stack()
    clock = Clock()
    writer = FrameWriter(keep, clock, 9)
    rx = Receiver(stack, writer, clock)
    for c in cases:  # [addr_type, address hex, rssi, advertising data hex]
        stack.handler(5, stack.event(c[0], unhexlify(c[1]), c[2], unhexlify(c[3])))
        stack.buf[:] = b"\xee" * len(stack.buf)  # the stack reuses its buffer at once
        rx.send()  # (as the main loop turns between advertisements: any number of cases)
    stack.handler(6, None)  # _IRQ_SCAN_DONE: ignored
    rx.send()
    first = {"wire": str(hexlify(OUT), "ascii"), "heard": rx.heard, "dropped": rx.dropped,
             "scan": list(stack.scan)}
    # overflow: more than the ring holds before send() runs
    location = ad(unhexlify("faff0d01") + bytes([0x12]) + bytes(24))
    event = stack.event(1, b"\xc0\x01\x02\x03\x04\x05", -60, location)
    for _ in range(SLOTS + 3):
        stack.handler(5, event)
    first["overflow_dropped"] = rx.dropped
    rx.send()
    # steady state: hear and send many, collector off, then the same with the heap locked
    writer._write = count
    other_stack = Stack()  # a second buffer: the two events stay valid side by side
    other = other_stack.event(0, b"\x11\x22\x33\x44\x55\x66", -90, b"\x02\x01\x06\x03\xff\x01\x02")
    for _ in range(20):
        stack.handler(5, event)
        stack.handler(5, other)
        rx.send()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(200):
        stack.handler(5, event)
        stack.handler(5, other)
        rx.send()
    first["grown"] = gc.mem_alloc() - before
    locked_ok = False
    micropython.heap_lock()
    try:
        for _ in range(200):
            stack.handler(5, event)
            stack.handler(5, other)
            rx.send()
        locked_ok = True
    except MemoryError:
        pass
    micropython.heap_unlock()
    first["locked_ok"] = locked_ok
    gc.enable()
    first["frames_counted"] = COUNT[0]
    print(json.dumps(first))


main()
