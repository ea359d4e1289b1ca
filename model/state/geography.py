"""Places the model knows: Border Patrol sectors and Mexican states of origin.

Kept as plain tables so scenario files can name sectors by key and tests can
check that every key a scenario uses is real.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Sector:
    key: str
    name: str
    us_state: str
    mexican_city: str


SECTORS: tuple[Sector, ...] = (
    Sector("san_diego", "San Diego", "CA", "Tijuana"),
    Sector("el_centro", "El Centro", "CA", "Mexicali"),
    Sector("yuma", "Yuma", "AZ", "San Luis Río Colorado"),
    Sector("tucson", "Tucson", "AZ", "Nogales"),
    Sector("el_paso", "El Paso", "TX/NM", "Ciudad Juárez"),
    Sector("big_bend", "Big Bend", "TX", "Ojinaga"),
    Sector("del_rio", "Del Rio", "TX", "Ciudad Acuña / Piedras Negras"),
    Sector("laredo", "Laredo", "TX", "Nuevo Laredo"),
    Sector("rio_grande_valley", "Rio Grande Valley", "TX", "Reynosa / Matamoros"),
)
SECTOR_KEYS: tuple[str, ...] = tuple(s.key for s in SECTORS)
SECTOR_INDEX: dict[str, int] = {k: i for i, k in enumerate(SECTOR_KEYS)}
N_SECTORS = len(SECTORS)


@dataclass(frozen=True)
class MexicanState:
    name: str
    border: bool
    km_to_border: int  # rough road distance from the state capital to the nearest port
    migrant_weight: float  # rough relative share among Mexicans apprehended


# Rough shares and distances: good enough to separate border from interior
# origins and near from far; the calibration issue may refine the weights.
MEXICAN_STATES: tuple[MexicanState, ...] = (
    MexicanState("Aguascalientes", False, 850, 1.0),
    MexicanState("Baja California", True, 20, 3.0),
    MexicanState("Baja California Sur", False, 1400, 0.3),
    MexicanState("Campeche", False, 1900, 0.3),
    MexicanState("Chiapas", False, 1900, 6.0),
    MexicanState("Chihuahua", True, 370, 4.0),
    MexicanState("Ciudad de México", False, 1000, 3.0),
    MexicanState("Coahuila", True, 60, 2.0),
    MexicanState("Colima", False, 1300, 0.5),
    MexicanState("Durango", False, 700, 2.0),
    MexicanState("Guanajuato", False, 900, 7.0),
    MexicanState("Guerrero", False, 1400, 8.0),
    MexicanState("Hidalgo", False, 950, 3.0),
    MexicanState("Jalisco", False, 1000, 5.0),
    MexicanState("México", False, 1050, 5.0),
    MexicanState("Michoacán", False, 1100, 8.0),
    MexicanState("Morelos", False, 1100, 2.0),
    MexicanState("Nayarit", False, 1200, 1.0),
    MexicanState("Nuevo León", True, 230, 2.0),
    MexicanState("Oaxaca", False, 1500, 7.0),
    MexicanState("Puebla", False, 1100, 6.0),
    MexicanState("Querétaro", False, 850, 2.0),
    MexicanState("Quintana Roo", False, 2300, 0.3),
    MexicanState("San Luis Potosí", False, 700, 3.0),
    MexicanState("Sinaloa", False, 900, 3.0),
    MexicanState("Sonora", True, 270, 3.0),
    MexicanState("Tabasco", False, 1500, 1.0),
    MexicanState("Tamaulipas", True, 320, 4.0),
    MexicanState("Tlaxcala", False, 1100, 1.0),
    MexicanState("Veracruz", False, 950, 6.0),
    MexicanState("Yucatán", False, 2200, 0.3),
    MexicanState("Zacatecas", False, 700, 3.0),
)
N_MEXICAN_STATES = len(MEXICAN_STATES)
