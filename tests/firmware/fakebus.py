# Recording fake buses for driver tests under MicroPython: every SPI transaction, 3-wire word
# and pin level is logged while `record` is on (off, they allocate nothing, for the heap checks);
# reads answer from tables the test sets.


class Log:
    def __init__(self):
        self.items = []
        self.record = True

    def add(self, item):
        if self.record:
            self.items.append(item)

    def take(self):
        items = self.items
        self.items = []
        return items


class FakeSpi:
    """Answers byte i of a transaction with answers.get(first byte)[i] (zeros if unknown)."""

    def __init__(self, log):
        self.log = log
        self.answers = {}

    def write(self, buf):
        if self.log.record:
            self.log.add(list(buf))

    def write_readinto(self, wbuf, rbuf):
        if self.log.record:
            self.log.add(list(wbuf))
        ans = self.answers.get(wbuf[0])
        for i in range(len(rbuf)):
            rbuf[i] = ans[i] if ans is not None and i < len(ans) else 0


class FakeWire:
    def __init__(self, log):
        self.log = log

    def write_word(self, word, nbits):
        if self.log.record:
            self.log.add(("word", word, nbits))


class FakeAdc:
    def __init__(self, value=0):
        self.value = value

    def read_u16(self):
        return self.value

    def read_block(self, buf, n, rate_hz):
        for i in range(n):
            buf[i] = self.value
        return 0


class FakePin:
    def __init__(self, log, name, level=0):
        self.log = log
        self.name = name
        self.level = level

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v
        if self.log.record:
            self.log.add((self.name, v))
