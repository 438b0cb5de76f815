"""Headline results on top of the engine (THEORY.md §6, §8).

* :mod:`.order`: partial order over shifts (``compare_shifts``, ``shift_effect``, ``certified_region``).
* :mod:`.linear`: the exact ID/OOD linear relation (``linear_relation``, ``deviation``).
* :mod:`.disagreement`: disagreement-on-the-line and the label-free OOD estimate
  (``disagreement_relation``, ``disagreement_deviation``, ``ood_error_estimate``).
* :mod:`.robustness`: ID/OOD errors, gap and ratio versus N/n and n/d (``robustness_curve``).
* :mod:`.ridge`: optimal ridge for ID or OOD error and the regret of ID tuning (``optimal_ridge``).
"""

from __future__ import annotations

from .disagreement import (
    DISAGREEMENT_KINDS,
    DisagreementRelation,
    OODEstimate,
    disagreement_deviation,
    disagreement_relation,
    ood_error_estimate,
)
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
    "DISAGREEMENT_KINDS",
    "CertifiedRegion",
    "DisagreementRelation",
    "LinearRelation",
    "OODEstimate",
    "OptimalRidge",
    "RobustnessCurve",
    "ShiftComparison",
    "ShiftEffect",
    "certified_region",
    "compare_shifts",
    "deviation",
    "disagreement_deviation",
    "disagreement_relation",
    "linear_relation",
    "ood_error_estimate",
    "optimal_ridge",
    "regret",
    "robustness_curve",
    "shift_effect",
]
