"""Host commands (docs/protocol.md, "Host to node"): one handler per verb.

A handler takes (app, args) and returns (status, result); the app sends `result` as the reply's
JSON. A bad argument raises ValueError (BAD_ARG), a failure to carry out a valid command raises
OSError (FAILED); the app turns both into `{"error": ...}` replies.
"""
import json

from .limits import TEMP_S_MAX
from .wire import BAD_ARG, FAILED, OK, UNKNOWN

_KEY_CHARS = "abcdefghijklmnopqrstuvwxyz_"
_WORD_CHARS = _KEY_CHARS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:"


def _no_args(args):
    if args:
        raise ValueError("takes no arguments")


def _is_key(word):
    return bool(word) and all(c in _KEY_CHARS for c in word)


def _value(text):
    """A `set` value: JSON, or a bare word taken as a string."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    if text and all(c in _WORD_CHARS for c in text):
        return text
    raise ValueError("bad value: " + text)


def parse_assignments(args):
    """`a=1 b={"x": 2}` -> {"a": 1, "b": {"x": 2}}; a space-separated part without `key=` belongs
    to the value before it, so JSON values may contain spaces."""
    pairs = []
    for part in args.split(" "):
        eq = part.find("=")
        if eq > 0 and _is_key(part[:eq]):
            pairs.append([part[:eq], part[eq + 1:]])
        elif pairs:
            pairs[-1][1] += " " + part
        elif part:
            raise ValueError("expected key=value, got " + part)
    if not pairs:
        raise ValueError("expected key=value ...")
    out = {}
    for key, text in pairs:
        out[key] = _value(text)
    return out


def ping(app, args):
    _no_args(args)
    app.clock.update()
    return OK, {"pong": True, "t_us": app.clock.us()}


def info(app, args):
    _no_args(args)
    return OK, app.info()


def get(app, args):
    cfg = app.config
    if not args:
        return OK, cfg
    if args not in cfg:
        raise ValueError("no config key " + args)
    if args == "plan":  # the stored plan, and whether a temporary one runs instead
        return OK, {"plan": cfg["plan"], "temp_plan_s": app.temp_plan_left_s()}
    return OK, {args: cfg[args]}


def set_(app, args):
    cfg = dict(app.config)
    cfg.update(parse_assignments(args))
    return OK, app.apply_config(cfg)


TEMP = " temp="


def plan(app, args):
    """`plan PLAN`: store and run PLAN (ending a temporary plan); `plan PLAN temp=SECONDS`: run
    it for SECONDS without storing it (docs/firmware.md, "Temporary plans")."""
    temp_s = 0
    at = args.rfind(TEMP)
    if at >= 0:
        try:
            temp_s = int(args[at + len(TEMP):])
        except ValueError:
            temp_s = -1
        if not 1 <= temp_s <= TEMP_S_MAX:
            raise ValueError("plan: temp= takes whole seconds 1..%d" % TEMP_S_MAX)
        args = args[:at]
    try:
        entries = json.loads(args)
    except ValueError:
        raise ValueError("plan: expected a JSON list of entries")
    if temp_s:
        app.set_temp_plan(entries, temp_s)
    else:
        cfg = dict(app.config)
        cfg["plan"] = entries
        app.apply_config(cfg, end_temp=True)
    return OK, app.scheduler.plan


def start(app, args):
    _no_args(args)
    app.start()
    return OK, {"streaming": True}


def stop(app, args):
    _no_args(args)
    app.streaming = False
    return OK, {"streaming": False}


def selftest(app, args):
    _no_args(args)
    parts = {}
    status = OK
    for fe in app.front_ends:
        try:
            ok, detail = fe.selftest()
        except Exception as e:  # a driver fault is a failed part, not a dead node
            ok, detail = False, "%s: %s" % (type(e).__name__, e)
        parts[fe.name] = {"ok": bool(ok), "detail": str(detail)}
        if not ok:
            status = FAILED
    if not parts:  # nothing was tested: no pass for a board whose front ends are missing
        return FAILED, {"parts": parts, "error": "no front ends to test"}
    return status, {"parts": parts}


def reboot(app, args):
    _no_args(args)
    app.reboot_pending = True
    return OK, {"rebooting": True}


HANDLERS = {
    "ping": ping,
    "info": info,
    "get": get,
    "set": set_,
    "plan": plan,
    "start": start,
    "stop": stop,
    "selftest": selftest,
    "reboot": reboot,
}


def run(app, verb, args):
    """(status, JSON text) for one command line's verb and argument text."""
    handler = HANDLERS.get(verb)
    if handler is None:
        return UNKNOWN, json.dumps({"error": "unknown command " + verb})
    try:
        status, result = handler(app, args)
    except ValueError as e:  # config.ConfigError is one
        return BAD_ARG, json.dumps({"error": str(e)})
    except OSError as e:
        return FAILED, json.dumps({"error": "failed: %s" % e})
    return status, json.dumps(result)
