"""Localisation: node positions in a local frame, emitter fixes from received powers with honest
95 % ellipses, and a tracker over time (docs/localisation.md). Pure NumPy, no I/O."""
from .geo import GeoPoint, LocalFrame
from .rss import Fix, Localiser, Locus, PathLossModel, Ring, ShadowingSpread, SiteExponent
from .track import Tracker

__all__ = ["Fix", "GeoPoint", "LocalFrame", "Localiser", "Locus", "PathLossModel", "Ring",
           "ShadowingSpread", "SiteExponent", "Tracker"]
