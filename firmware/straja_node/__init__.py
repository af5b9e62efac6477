"""Straja node firmware (MicroPython)."""

VERSION = "0.1.0"
