# Runs the node's command-line parser (firmware/straja_node/cmdline.py) on the vectors in
# commands.json, under MicroPython, and prints what it returned as JSON:
#
#     MICROPYPATH=firmware micropython tests/vectors/check_commands.py tests/vectors/commands.json
#
# {"lines": [results of each 'lines' case], "format": [results for each line 'format' makes]}.
# Each chunk is fed through one preallocated buffer, as the firmware's poll loop does.
import json
import sys

from straja_node.cmdline import LineReader

BUF = bytearray(4096)


def expand(v):
    """A string written as a list of parts: strings and [text, count] repeats."""
    if isinstance(v, str):
        return v
    return "".join(p if isinstance(p, str) else p[0] * p[1] for p in v)


def run(chunks):
    reader = LineReader()
    out = []
    for chunk in chunks:
        data = expand(chunk).encode()
        pos = 0
        while pos < len(data):  # a chunk longer than the buffer arrives in several reads
            n = min(len(BUF), len(data) - pos)
            BUF[0:n] = data[pos:pos + n]
            out.extend(list(r) for r in reader.feed(BUF, n))
            pos += n
    return out


def main():
    with open(sys.argv[1]) as f:
        vectors = json.load(f)
    result = {"lines": [run(case["feed"]) for case in vectors["lines"]],
              "format": [run([case["line"]]) for case in vectors["format"] if case["line"]]}
    print(json.dumps(result))


main()
