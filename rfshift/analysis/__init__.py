"""Headline results on top of the engine (THEORY.md §6, §8).

* :mod:`.order`: partial order over shifts (``compare_shifts``, ``shift_effect``, ``certified_region``).
* :mod:`.linear`: the exact ID/OOD linear relation (``linear_relation``, ``deviation``).
* :mod:`.robustness`: ID/OOD errors, gap and ratio versus N/n and n/d (``robustness_curve``).
* :mod:`.ridge`: optimal ridge for ID or OOD error and the regret of ID tuning (``optimal_ridge``).
"""

from __future__ import annotations

from .linear import LinearRelation, deviation, linear_relation
from .order import (
    CertifiedRegion,
    ShiftComparison,
    ShiftEffect,
    certified_region,
    compare_shifts,
    shift_effect,
)
from .ridge import OptimalRidge, optimal_ridge, regret
from .robustness import RobustnessCurve, robustness_curve

__all__ = [
    "CertifiedRegion",
    "LinearRelation",
    "OptimalRidge",
    "RobustnessCurve",
    "ShiftComparison",
    "ShiftEffect",
    "certified_region",
    "compare_shifts",
    "deviation",
    "linear_relation",
    "optimal_ridge",
    "regret",
    "robustness_curve",
    "shift_effect",
]
