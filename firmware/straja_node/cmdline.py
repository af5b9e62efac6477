"""Host-to-node command lines (docs/protocol.md, "Host to node: command lines"): the parser.

    line = id SP verb [SP args] LF

`LineReader.feed(buf, n)` takes whatever bytes a non-blocking read returned (from the caller's
preallocated buffer) and returns the lines they completed, in order:

- `(request_id, verb, args)` for a command: id an int 1..65535, verb and args str (args "" when
  absent). The verb is not checked here: the dispatcher answers UNKNOWN for one it does not have.
- `(request_id, None, status)` for a line that gets an error reply: status TOO_LONG or BAD_LINE,
  request_id 0 unless the line began with a readable id.

Empty lines give nothing; 0x03 (which the REPL normally takes as Ctrl-C before it gets here)
abandons the line in progress without a reply. Bytes are kept in one preallocated buffer: a
feed that completes no line allocates nothing.
"""
from micropython import const

from .wire import BAD_LINE, MAX_LINE, TOO_LONG

_LF = const(0x0A)
_CR = const(0x0D)
_SP = const(0x20)
_ETX = const(0x03)
_NONE = ()


class LineReader:
    def __init__(self, max_line=MAX_LINE):
        self._max = max_line
        self._buf = bytearray(max_line)
        self._len = 0  # bytes of the line so far, past the buffer's end included
        self._bad = False  # a byte outside printable ASCII (a CR not before LF included)
        self._cr = False  # the last byte was CR
        self.lines_bad = 0  # lines answered TOO_LONG or BAD_LINE (STATUS commands_bad)

    def feed(self, buf, n=-1):
        """Parse buf[0:n] (all of buf if n < 0); return the completed lines' results."""
        if n < 0:
            n = len(buf)
        out = None
        for i in range(n):
            b = buf[i]
            if b == _LF:
                item = self._end()
                if item is not None:
                    if out is None:
                        out = []
                    out.append(item)
            elif b == _ETX:
                self._reset()
            else:
                if self._cr or not (0x20 <= b <= 0x7E or b == _CR):
                    self._bad = True
                self._cr = b == _CR
                if self._len < self._max:
                    self._buf[self._len] = b
                self._len += 1
        return _NONE if out is None else out

    def _reset(self):
        self._len = 0
        self._bad = False
        self._cr = False

    def _end(self):
        """The result for the line that this LF ends, None for an empty line."""
        length = self._len
        bad = self._bad
        size = length - 1 if self._cr else length  # without the CR before LF
        self._reset()
        if size == 0:
            return None
        if length + 1 > self._max:
            self.lines_bad += 1
            return (self._id(min(size, self._max))[0], None, TOO_LONG)
        rid, verb_at = self._id(size)
        if bad or rid == 0:
            self.lines_bad += 1
            return (rid, None, BAD_LINE)
        line = self._buf
        end = verb_at
        while end < size and line[end] != _SP:
            end += 1
        verb = str(line[verb_at:end], "ascii")
        args = str(line[end + 1:size], "ascii") if end < size else ""
        return (rid, verb, args)

    def _id(self, size):
        """(request id, index where the verb starts) of the line's first `size` bytes; id 0 if
        they do not begin with 1..5 digits worth 1..65535 followed by SP or the line's end."""
        line = self._buf
        i = 0
        rid = 0
        while i < size and i < 6 and 0x30 <= line[i] <= 0x39:
            rid = rid * 10 + line[i] - 0x30
            i += 1
        if i == 0 or i > 5 or rid > 65535 or (i < size and line[i] != _SP):
            return 0, 0
        return rid, i + 1
