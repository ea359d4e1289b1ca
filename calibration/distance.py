"""How far a run is from the seed articles' figures.

Each target's miss is put on one scale, its tolerance: `miss = how far the run is
outside what the figure allows / (tolerance x |value|)`, so 1 means "one tolerance
off" whatever the figure's size (people, months, a share). By kind:

    about     |s - v| / (tol |v|)             met when within the tolerance (miss <= 1)
    exact     |s - v| / (tol |v|)             met only by the figure itself (|s - v| < 0.5:
                                              a count of months or flights)
    at_least  max(v - s, 0) / (tol |v|)       met by anything at or above v (miss 0)
    at_most   max(s - v, 0) / (tol |v|)       met by anything at or below v (miss 0)

`distance` combines the misses of the targets a run at its scale measures (a count
too small for a coarse scale has `coarsest_scale`) as their root mean square:
the number ABC-SMC (`calibration.abc`) drives down. A missing or non-finite
simulated value counts as `MISSING_MISS` tolerances off.

`averaged_relative_difference` is the score the Flee refugee model publishes: the
mean of |s - v| / |v| over the targets, kinds ignored (so a floor exceeded still
counts its excess); `honour_kinds=True` counts a met floor or ceiling as 0.
"""

import math
from collections.abc import Mapping

from calibration.targets import Target, measurable

MISSING_MISS = 100.0  # a target the run could not give a finite value for


def miss(target: Target, simulated: float) -> float:
    """The target's miss in tolerances (0 = on the figure or inside a floor/ceiling)."""
    if simulated is None or not math.isfinite(simulated):
        return MISSING_MISS
    unit = target.tolerance * abs(target.value)
    off = simulated - target.value
    if target.kind == "at_least":
        return max(-off, 0.0) / unit
    if target.kind == "at_most":
        return max(off, 0.0) / unit
    return abs(off) / unit  # about, exact


def met(target: Target, simulated: float) -> bool:
    """Whether one run's value meets the figure, by its kind (see the module doc)."""
    if simulated is None or not math.isfinite(simulated):
        return False
    if target.kind == "at_least":
        return simulated >= target.value
    if target.kind == "at_most":
        return simulated <= target.value
    if target.kind == "exact":
        return abs(simulated - target.value) < 0.5
    return abs(simulated - target.value) <= target.tolerance * abs(target.value)


def band(target: Target) -> tuple[float, float]:
    """The values that meet the figure, as (low, high) (infinite for a floor or ceiling)."""
    v, width = target.value, target.tolerance * abs(target.value)
    return {"about": (v - width, v + width), "exact": (v - 0.5, v + 0.5),
            "at_least": (v, math.inf), "at_most": (-math.inf, v)}[target.kind]


def distance(targets: tuple[Target, ...], simulated: Mapping[str, float],
             scale: int = 1) -> float:
    """Root mean square of the misses of the targets measured at `scale` (module doc)."""
    chosen = measurable(targets, scale)
    if not chosen:
        raise ValueError("no measurable targets")
    total = sum(miss(t, simulated.get(t.id)) ** 2 for t in chosen)
    return math.sqrt(total / len(chosen))


def averaged_relative_difference(targets: tuple[Target, ...], simulated: Mapping[str, float],
                                 honour_kinds: bool = False, scale: int = 1) -> float:
    """Mean |s - v| / |v| over the targets measured at `scale` (Flee's score); with
    `honour_kinds`, a floor or ceiling that is met counts 0."""
    chosen = measurable(targets, scale)
    if not chosen:
        raise ValueError("no measurable targets")
    parts = []
    for t in chosen:
        s = simulated.get(t.id)
        if s is None or not math.isfinite(s):
            parts.append(MISSING_MISS)
        elif honour_kinds and t.kind in ("at_least", "at_most") and met(t, s):
            parts.append(0.0)
        else:
            parts.append(abs(s - t.value) / abs(t.value))
    return sum(parts) / len(parts)
