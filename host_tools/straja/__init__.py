"""Straja: open firmware and tools for a counter-drone RF sensor network (host side)."""

__version__ = "0.1.0"
