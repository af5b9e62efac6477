# A fake hardware layer (the straja_node.hw contract, docs/architecture.md) for running the
# firmware under the MicroPython unix port in tests. Settings come from `fakehw.json` in the
# working directory (the fake flash): {"safe_pin_low": bool, "selftest_fail": name,
# "tune_us": busy time per tune, "paced_blocks": envelope blocks take their n / rate_hz, "crash": make front_ends() raise, "bare": no front ends,
# "reset_cause": the protocol's code, 3 (soft reset) by default}. Resets, started watchdogs and
# their first feed are logged in `fakehw.log`.
import json
from time import ticks_add, ticks_diff, ticks_us


def _settings():
    try:
        with open("fakehw.json") as f:
            return json.loads(f.read())
    except OSError:
        return {}


def _log(line):
    with open("fakehw.log", "a") as f:
        f.write(line + "\n")


class FakeSweep:
    """A tunable front end whose RSSI code is a fixed function of the frequency."""

    kind = "cc2500"

    def __init__(self, name, band_khz, settle_us, tune_us=0, fail=False):
        self.name = name
        self.band_khz = band_khz
        self.settle_us = settle_us
        self.tune_us = tune_us
        self.fail = fail
        self.freq = band_khz[0]

    def tune(self, freq_khz):
        self.freq = freq_khz
        if self.tune_us:
            end = ticks_add(ticks_us(), self.tune_us)
            while ticks_diff(end, ticks_us()) > 0:
                pass

    def rssi_code(self):
        return (self.freq // 1000) % 200 + 20

    def selftest(self):
        if self.fail:
            return False, "no answer on SPI"
        return True, "chip id ok"


class FakeLogdet:
    kind = "logdet"

    def __init__(self, name, paced=False):
        self.name = name
        self.paced = paced
        self.band_khz = (1, 8000000)
        self.settle_us = 0
        self.centre_khz = 5800000
        self.slope_udb = -22000
        self.intercept_mdbm = 15000

    def read_block(self, buf, n, rate_hz):
        """At once, or (paced) in n / rate_hz as a board's read does."""
        end = ticks_add(ticks_us(), n * 1000000 // rate_hz if self.paced else 0)
        for i in range(n):
            buf[i] = i * 64
        while ticks_diff(end, ticks_us()) > 0:
            pass
        return 0

    def selftest(self):
        return True, "adc ok"


class FakeWatchdog:
    def __init__(self, timeout_ms):
        _log("watchdog %d" % timeout_ms)
        self.fed = False

    def feed(self):
        if not self.fed:  # one line: the loop feeds it every turn
            _log("fed")
            self.fed = True

    def release(self):
        _log("released")


def profile():
    return {"name": "fake", "front_ends": ["cc", "logdet"]}


def front_ends(config):
    s = _settings()
    if s.get("crash"):
        raise RuntimeError("fake front end fault")
    if s.get("bare"):
        return []
    fail = s.get("selftest_fail")
    return [
        FakeSweep("cc", (2400000, 2483000), 100, s.get("tune_us", 0), fail == "cc"),
        FakeSweep("rx", (5645000, 5945000), 300, 0, fail == "rx"),
        FakeLogdet("logdet", s.get("paced_blocks", False)),
    ]


def watchdog(timeout_ms):
    return FakeWatchdog(timeout_ms)


def reset():
    _log("reset")
    raise SystemExit(0)


def reset_cause():
    return _settings().get("reset_cause", 3)


def unique_id():
    return b"\x01\x02\x03\x04"


def safe_pin_low():
    return bool(_settings().get("safe_pin_low"))


def led(on):
    pass


def bluetooth():
    return None  # the Remote ID receiver has its own tests (remoteid_check.py)


def bluetooth_events():
    pass


def idle(deadline=0, reading=-1):
    pass
