# The virtual board's default scan plan and the node's `info` reply, through the real unix
# hardware layer and drivers against a virtual board server (tests/test_frontends.py). The
# working directory holds board.json. Prints JSON: the default plan, and the info command's
# status, JSON text and REPLY frame as sent (hex).
import json

from straja_node import app, commands, hw
from straja_node.plan import default_plan

sent = []


def write(buf, n):
    sent.append(bytes(buf[:n]))
    return n


node = app.App(hw, write)
status, text = commands.run(node, "info", "")
node.writer.reply(1, status, text)
print(json.dumps({
    "default_plan": default_plan(node.front_ends),
    "info": [status, text],
    "reply_wire": sent[-1].hex(),
}))
