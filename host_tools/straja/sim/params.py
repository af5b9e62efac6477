"""Declared parameters of scene objects: type, default, allowed range, one line of documentation.

Emitter models and scene sections declare their fields with `Param`; the scene loader checks every
field against its declaration so that a bad scene fails with a message naming the field.
"""
import math

REQUIRED = object()


class ParamError(ValueError):
    """A bad value; `field` is the name of the offending field."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


class Param:
    """One field: type is float, int, str, bool or 'floats' (a list of numbers)."""

    def __init__(self, type_=float, default=REQUIRED, lo=None, hi=None, choices=None, doc=""):
        self.type = type_
        self.default = default
        self.lo = lo
        self.hi = hi
        self.choices = choices
        self.doc = doc

    def check(self, name, value):
        """The value, converted and range-checked, or ParamError."""
        value = self._convert(name, value)
        items = value if self.type == "floats" else [value]
        for v in items:
            if isinstance(v, float) and not math.isfinite(v):  # (TOML has nan and inf)
                raise ParamError(name, f"must be a finite number (got {v})")
            if self.lo is not None and v < self.lo:
                raise ParamError(name, f"must be >= {self.lo} (got {v})")
            if self.hi is not None and v > self.hi:
                raise ParamError(name, f"must be <= {self.hi} (got {v})")
        if self.choices is not None and value not in self.choices:
            raise ParamError(name, f"must be one of {', '.join(map(str, self.choices))} (got {value!r})")
        return value

    def _convert(self, name, value):
        number = (int, float)
        if self.type == "floats":
            if not isinstance(value, list) or not value or \
                    not all(isinstance(v, number) and not isinstance(v, bool) for v in value):
                raise ParamError(name, f"must be a non-empty list of numbers (got {value!r})")
            return [float(v) for v in value]
        if self.type is float and isinstance(value, number) and not isinstance(value, bool):
            return float(value)
        if self.type is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if self.type is str and isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
        if self.type is bool and isinstance(value, bool):
            return value
        raise ParamError(name, f"must be {self.type.__name__} (got {value!r})")


def resolve(spec, given):
    """Check `given` (a dict) against `spec` (name -> Param): filled-in dict, or ParamError."""
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise ParamError(unknown[0], f"unknown field (known: {', '.join(sorted(spec))})")
    out = {}
    for name, p in spec.items():
        if name in given:
            out[name] = p.check(name, given[name])
        elif p.default is REQUIRED:
            raise ParamError(name, "missing required field")
        else:
            out[name] = p.default
    return out
