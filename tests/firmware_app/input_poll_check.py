# Run the app streaming for RUN_MS and report how often its loop looked at the command input
# against how many scheduler steps it ran (tests/test_firmware_app.py). MICROPYPATH holds
# firmware/ and this folder; the working directory is an empty flash (default config).
import json
import sys
from time import ticks_diff, ticks_ms

import fakehw
from straja_node.app import CHORES_MS, App

RUN_MS = 300


class CountingApp(App):
    """The app whose input reads and steps are counted; it stops after RUN_MS of streaming."""

    def __init__(self):
        super().__init__(fakehw, lambda buf, n: n)
        self.reads = 0
        self.steps = 0
        self.began = ticks_ms()
        step = self.scheduler.step

        def counted_step():
            self.steps += 1
            return step()

        self.scheduler.step = counted_step

    def _read_input(self):
        self.reads += 1
        if ticks_diff(ticks_ms(), self.began) >= RUN_MS:
            raise KeyboardInterrupt
        super()._read_input()


app = CountingApp()
app.start()
try:
    app.run()
except KeyboardInterrupt:
    pass
print(json.dumps({"reads": app.reads, "steps": app.steps, "poll_ms": CHORES_MS,
                  "run_ms": ticks_diff(ticks_ms(), app.began)}))
sys.exit(0)
