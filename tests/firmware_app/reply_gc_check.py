# Serve two commands through the app's input and report, for each reply, the garbage the heap
# held when the reply was sent: the bytes a collection then freed (tests/test_firmware_app.py).
# MICROPYPATH holds firmware/ and this folder; the working directory is an empty flash.
import gc
import io
import json
import sys

import fakehw
from straja_node.app import App

LINES = b"1 info\n2 ping\n"


class Input:
    """Command lines from memory, in place of the board's stdin."""

    def __init__(self, data):
        self.buffer = io.BytesIO(data)
        self.left = len(data)

    def readable(self):
        return self.buffer.tell() < self.left


class ScriptedApp(App):
    def __init__(self):
        super().__init__(fakehw, lambda buf, n: n)
        self._stdin = Input(LINES)
        self.garbage = []
        send = self.writer.reply

        def measured_reply(rid, status, text):
            before = gc.mem_alloc()
            gc.collect()
            self.garbage.append(before - gc.mem_alloc())
            send(rid, status, text)
            if len(self.garbage) == 2:
                raise KeyboardInterrupt

        self.writer.reply = measured_reply

    def _readable(self):
        return self._stdin.readable()


gc.collect()
app = ScriptedApp()
try:
    app.run()
except KeyboardInterrupt:
    pass
print(json.dumps({"garbage": app.garbage}))
sys.exit(0)
