"""Unbiased estimators of error, bias, variance and the ANOVA variance terms from pair statistics.

Per trial (one β, several trainings p with draw indices (iW, iX, iε)) the simulator returns, for the
test law (OOD: Σ*, ID: Σ), exact test expectations

    yy = E_x[y(x)²],   yf[p] = E_x[y(x) ŷ_p(x)],   G[p, q] = E_x[ŷ_p(x) ŷ_q(x)].

For a subset S ⊆ {W, X, ε}, Q_S (THEORY.md §7) is estimated by the mean of G[p, q] over the ordered
pairs p ≠ q that share exactly the sources in S (same draw index) — an unbiased estimate because the
other sources are independent draws; Q_{WXε} is the mean of the diagonal G[p, p]. Then, per trial,

    error    = yy − 2·mean_p yf[p] + mean_p G[p, p]         (mean test error of the trainings)
    bias     = yy − 2·mean_p yf[p] + Q_∅                    (E_{β,x}(E_{W,X,ε} ŷ − y)²)
    variance = Q_{WXε} − Q_∅,     error = bias + variance exactly,

and the seven ANOVA terms are the Möbius differences of the Q_S.

Disagreement and ensembles (issue 11; β always shared): two models sharing the sources S disagree by
E_x(ŷ₁ − ŷ₂)² = 2(Q_{WXε} − Q_S), so per trial

    shared_data = 2(Q_{WXε} − Q_{Xε}),  shared_features = 2(Q_{WXε} − Q_W),  independent = 2(Q_{WXε} − Q_∅).

The average of K models with independent W on the same data (X, ε) has, by exchangeability,
E_K = yy − 2·E yf + Q_{WXε}/K + (1 − 1/K) Q_{Xε} = E_∞ + (E_1 − E_∞)/K with E_∞ = yy − 2·mean yf + Q_{Xε}
and E_1 − E_∞ = Q_{WXε} − Q_{Xε} (the W-variance): exact for every K, estimated from the pairs.

Every per-trial estimate is unbiased
for its expectation given β; trials are independent, so the mean over trials is unbiased and its
standard error is the sample standard deviation over trials / √trials. (A per-trial bias estimate can
be negative: it is unbiased, not a square.)
"""

from __future__ import annotations

import itertools

import numpy as np

from .sampling import Design

__all__ = ["FINE_TERMS", "pair_means", "summarise", "summarise_columns", "trial_estimates"]

#: ANOVA terms (names of rfshift.VarianceTerms) as Möbius sums over shared-source patterns (W, X, ε).
FINE_TERMS: dict[str, dict[tuple[int, int, int], int]] = {}


def _mobius(target: tuple[int, int, int]) -> dict[tuple[int, int, int], int]:
    """V_S = Σ_{T ⊆ S} (−1)^{|S|−|T|} Q_T (inclusion–exclusion over the shared sources)."""
    out = {}
    for sub in itertools.product(*[(0, 1) if t else (0,) for t in target]):
        out[sub] = (-1) ** (sum(target) - sum(sub))
    return out


for _name, _pattern in (("w", (1, 0, 0)), ("x", (0, 1, 0)), ("eps", (0, 0, 1)), ("wx", (1, 1, 0)),
                        ("w_eps", (1, 0, 1)), ("x_eps", (0, 1, 1)), ("wx_eps", (1, 1, 1))):
    FINE_TERMS[_name] = _mobius(_pattern)


def pair_means(G: np.ndarray, design: Design) -> dict[tuple[int, int, int], np.ndarray]:
    """Q_S estimates per trial: mean of G[..., p, q] over pairs sharing exactly the sources S."""
    idx = np.asarray(design.idx)
    shared = (idx[:, None, :] == idx[None, :, :]).astype(int)  # (P, P, 3)
    out: dict[tuple[int, int, int], np.ndarray] = {}
    for pattern in itertools.product((0, 1), repeat=3):
        mask = np.all(shared == np.asarray(pattern), axis=-1)
        if mask.any():
            out[pattern] = G[..., mask].mean(axis=-1)
    return out


def trial_estimates(yy: np.ndarray, yf: np.ndarray, G: np.ndarray, design: Design,
                    fine: bool = False, disagreement: bool = False,
                    ensemble: tuple[float, ...] | None = None) -> dict[str, np.ndarray]:
    """Per-trial unbiased estimates (arrays over the leading trial axis) of error, bias, variance;
    when ``fine`` (factorial design) the seven ANOVA terms ``var_<name>``; when ``disagreement``,
    ``dis_shared_data``, ``dis_shared_features``, ``dis_independent``; for ``ensemble`` = (K, ...)
    (K >= 1, ``math.inf`` allowed), ``ensemble`` of shape (trials, len(K)) and ``ensemble_wvar``."""
    Q = pair_means(G, design)
    if (0, 0, 0) not in Q:
        raise ValueError("the design needs at least one pair of trainings sharing only β")
    diag = np.diagonal(G, axis1=-2, axis2=-1).mean(axis=-1)
    lin = yy - 2.0 * yf.mean(axis=-1)
    out = {"error": lin + diag, "bias": lin + Q[(0, 0, 0)], "variance": diag - Q[(0, 0, 0)]}
    if fine:
        if not design.is_factorial:
            raise ValueError("fine-grained terms need the 2×2×2 factorial design")
        for name, coeffs in FINE_TERMS.items():
            out[f"var_{name}"] = sum(c * Q[pat] for pat, c in coeffs.items())
    if disagreement or ensemble is not None:
        need = [(0, 1, 1)] + ([(1, 0, 0)] if disagreement else [])
        missing = [p for p in need if p not in Q]
        if missing:
            raise ValueError(f"the design has no pairs sharing exactly the sources {missing} (W, X, ε); "
                             "use sampling.disagreement_design() or the factorial design")
    if disagreement:
        out["dis_shared_data"] = 2.0 * (diag - Q[(0, 1, 1)])
        out["dis_shared_features"] = 2.0 * (diag - Q[(1, 0, 0)])
        out["dis_independent"] = 2.0 * (diag - Q[(0, 0, 0)])
    if ensemble is not None:
        ks = np.asarray(ensemble, dtype=float)
        wvar = diag - Q[(0, 1, 1)]
        out["ensemble_wvar"] = wvar
        out["ensemble"] = (lin + Q[(0, 1, 1)])[..., None] + wvar[..., None] / ks
    return out


def summarise(samples: np.ndarray) -> tuple[float, float]:
    """Mean over trials and its standard error (sample std with ddof=1 over √trials)."""
    x = np.asarray(samples, dtype=float)
    if x.size < 2:
        raise ValueError("a standard error needs at least 2 trials")
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))


def summarise_columns(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise mean over trials (axis 0) and standard error, for (trials, k) samples."""
    x = np.asarray(samples, dtype=float)
    if x.shape[0] < 2:
        raise ValueError("a standard error needs at least 2 trials")
    return x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])
