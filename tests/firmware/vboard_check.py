# Drives one front end of the virtual board through the real hardware layer and driver, as the
# firmware would: argv[1] is JSON {"fe": index, "freqs": [kHz...], "blend": [near, far] kHz,
# "block": [n, rate_hz], "cad": [kHz...]}. Prints JSON: RSSI codes per frequency, the RX5808 settling readings,
# an envelope block, and the heap allocated by tune() + rssi_code() through the socket proxies.
import gc
import json
import sys
from array import array
from time import sleep_us

from straja_node import hw

args = json.loads(sys.argv[1])
fe = hw.front_ends({})[args["fe"]]
out = {"name": fe.name, "kind": fe.kind, "selftest": fe.selftest()}
codes = {}
for f in args.get("freqs", ()):
    fe.tune(f)
    sleep_us(fe.settle_us + 200)
    codes[str(f)] = fe.rssi_code()
out["codes"] = codes
if codes:
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for f in args["freqs"]:
        fe.tune(f)
        fe.rssi_code()
    out["alloc"] = gc.mem_alloc() - before
    gc.enable()
if "blend" in args:
    near, far = args["blend"]
    fe.tune(near)
    sleep_us(fe.settle_us + 10000)
    settled_near = fe.rssi_code()
    fe.tune(far)
    sleep_us(fe.settle_us // 10)
    early = fe.rssi_code()
    sleep_us(fe.settle_us + 10000)
    out["blend"] = [settled_near, early, fe.rssi_code()]
if "cad" in args:
    out["cad"] = [fe.cad(f) for f in args["cad"]]
if "block" in args:
    n, rate = args["block"]
    buf = array("H", bytearray(2 * n))
    out["flags"] = fe.read_block(buf, n, rate)
    out["samples"] = list(buf)
    out["cal"] = [fe.slope_udb, fe.intercept_mdbm]
print(json.dumps(out))
