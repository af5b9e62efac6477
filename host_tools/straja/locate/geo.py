"""Node positions and a local East-North-Up frame on the WGS84 ellipsoid.

Geodetic (lat, lon, height above the ellipsoid) to ECEF is exact; ECEF to ENU is a rotation about
the frame's origin. The inverse uses Bowring's method with two refinements, millimetre-exact at the
ranges a site spans. A frame is tangent at its origin, so "up" is the origin's vertical: over a few
kilometres the Earth's curvature lowers a point 2 km away by 0.3 m, far below RSS accuracy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)
WGS84_B = WGS84_A * (1 - WGS84_F)
WGS84_EP2 = (WGS84_A**2 - WGS84_B**2) / WGS84_B**2


@dataclass(frozen=True)
class GeoPoint:
    """A surveyed position: latitude and longitude in degrees, height in metres (HAE)."""

    lat: float
    lon: float
    hae_m: float = 0.0

    def __post_init__(self):
        if not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"latitude {self.lat} is outside -90..90 degrees")
        if not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"longitude {self.lon} is outside -180..180 degrees")

    @classmethod
    def parse(cls, text: str) -> "GeoPoint":
        """'LAT,LON[,HEIGHT]' as typed on a command line or in a config."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) not in (2, 3):
            raise ValueError(f"position {text!r} is not LAT,LON or LAT,LON,HEIGHT")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"position {text!r} has a part that is not a number") from None
        return cls(*values)


def geodetic_to_ecef(lat_deg, lon_deg, hae_m):
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    n = WGS84_A / np.sqrt(1 - WGS84_E2 * np.sin(lat) ** 2)
    return np.stack([(n + hae_m) * np.cos(lat) * np.cos(lon),
                     (n + hae_m) * np.cos(lat) * np.sin(lon),
                     (n * (1 - WGS84_E2) + hae_m) * np.sin(lat)], axis=-1)


def ecef_to_geodetic(xyz):
    x, y, z = np.moveaxis(np.asarray(xyz, dtype=float), -1, 0)
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    lat = np.arctan2(z, p * (1 - WGS84_E2))  # first guess, then Bowring's refinement twice
    for _ in range(2):
        beta = np.arctan2((1 - WGS84_F) * np.sin(lat), np.cos(lat))
        lat = np.arctan2(z + WGS84_EP2 * WGS84_B * np.sin(beta) ** 3,
                         p - WGS84_E2 * WGS84_A * np.cos(beta) ** 3)
    # Height valid at any latitude, poles included (no division by cos(lat)).
    hae = p * np.cos(lat) + z * np.sin(lat) - WGS84_A * np.sqrt(1 - WGS84_E2 * np.sin(lat) ** 2)
    return np.degrees(lat), np.degrees(lon), hae


class LocalFrame:
    """East-North-Up metres about an origin; converts both ways, on scalars or arrays."""

    def __init__(self, origin: GeoPoint):
        self.origin = origin
        lat, lon = np.radians(origin.lat), np.radians(origin.lon)
        self._ecef0 = geodetic_to_ecef(origin.lat, origin.lon, origin.hae_m)
        sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
        self._rot = np.array([[-so, co, 0.0],
                              [-sl * co, -sl * so, cl],
                              [cl * co, cl * so, sl]])  # rows: east, north, up in ECEF

    @classmethod
    def about(cls, points: list[GeoPoint]) -> "LocalFrame":
        """A frame at the mean position of the points (the site's nodes)."""
        if not points:
            raise ValueError("a local frame needs at least one position")
        return cls(GeoPoint(float(np.mean([p.lat for p in points])),
                            float(np.mean([p.lon for p in points])),
                            float(np.mean([p.hae_m for p in points]))))

    def to_enu(self, lat, lon, hae_m=0.0) -> np.ndarray:
        """(..., 3) east, north, up in metres."""
        d = geodetic_to_ecef(np.asarray(lat, float), np.asarray(lon, float), np.asarray(hae_m, float))
        return (d - self._ecef0) @ self._rot.T

    def point_to_enu(self, p: GeoPoint) -> np.ndarray:
        return self.to_enu(p.lat, p.lon, p.hae_m)

    def to_geodetic(self, enu) -> tuple:
        """(lat, lon, hae_m) of ENU points (..., 3)."""
        return ecef_to_geodetic(np.asarray(enu, float) @ self._rot + self._ecef0)

    def to_geopoint(self, enu) -> GeoPoint:
        lat, lon, hae = self.to_geodetic(enu)
        return GeoPoint(float(lat), float(lon), float(hae))


def ground_distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance (m) on the WGS84 ellipsoid between two (latitude, longitude) in degrees: the
    haversine's central angle times Euler's radius of curvature in the direction from a to b at
    the mean latitude. Within a few centimetres over a site's kilometres (the sphere's mean
    radius alone errs by up to 0.5 %); within about 0.5 % across continents."""
    la1, lo1, la2, lo2 = map(np.radians, (*a, *b))
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    angle = 2 * np.arcsin(min(1.0, float(np.sqrt(h))))
    lat = (la1 + la2) / 2
    w = 1 - WGS84_E2 * np.sin(lat) ** 2
    meridian = WGS84_A * (1 - WGS84_E2) / w**1.5   # radius of curvature north-south
    normal = WGS84_A / np.sqrt(w)                 # ... east-west
    north, east = la2 - la1, (lo2 - lo1) * np.cos(lat)
    along = north * north + east * east
    cos2 = north * north / along if along > 0 else 1.0
    radius = meridian * normal / (normal * cos2 + meridian * (1 - cos2))
    return float(radius * angle)
