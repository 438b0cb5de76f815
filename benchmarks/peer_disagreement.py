"""rfshift's disagreements against the peer formulas of Lee et al. (ICML 2023) for ReLU under shift.

Peer: D. Lee, B. Moniri, X. Huang, E. Dobriban, H. Hassani, "Demystifying Disagreement-on-the-Line in
High Dimensions", ICML 2023; code github.com/dh7401/RF-disagreement (files ``utils.py``,
``experiments/simulations/{asymptotics,deviation,simulate_ridge}.py``). Their code is a set of
scripts (no importable package, ReLU hard-coded), so the formulas are re-implemented below from
those files, term by term, in their notation (THEORY.md's κ, τ, τ̄, I_{a,b}, I*_{a,b}).

Conventions mapping (theirs → rfshift):

* ``Mu(r, e1s, e2s, e1t, e2t)`` → ``Spectrum([e1s, e2s], [e1t, e2t], [r, 1 - r])``;
* ``sigma_ep`` is the noise *standard deviation* → ``noise_var = sigma_ep**2``;
* source/target → ID/OOD; d, n, N → n0, m, n1, so φ = d/n and ψ = d/N as here;
* "I" (independent) → ``disagreement.independent``; "SS" (same samples, different weights) →
  ``shared_data``; "SW" (same weights, different samples) → ``shared_features``;
* ReLU: ρ_s = ρ_t = 1/4, ω = tr(Σ)/d · (1 − 2/π) (THEORY.md §3), the same ridge γ on FᵀF/N + γI.

Two columns per quantity: the peer's formulas at the peer's own κ (their fixed-point iteration,
stopped at |Δκ| <= 1e-7 as in ``utils.solve_kappa``) and at rfshift's κ (isolating the formulas).

Run: ``PYTHONPATH=$PWD python benchmarks/peer_disagreement.py`` (prints a table; ~1 s).
"""

from __future__ import annotations

import math
import sys

import numpy as np

import rfshift as rf

QUANTITIES = ("I_s", "SS_s", "SW_s", "I_t", "SS_t", "SW_t")


class Mu:
    """Two-mass joint measure, as the peer's ``utils.Mu``."""

    def __init__(self, r, e1s, e2s, e1t, e2t):
        self.r, self.e1s, self.e2s, self.e1t, self.e2t = r, e1s, e2s, e1t, e2t

    def src_tr(self):
        return self.r * self.e1s + (1 - self.r) * self.e2s

    def tgt_tr(self):
        return self.r * self.e1t + (1 - self.r) * self.e2t

    def spectrum(self) -> rf.Spectrum:
        return rf.Spectrum([self.e1s, self.e2s], [self.e1t, self.e2t], [self.r, 1 - self.r])


def I_s(a, b, kappa, phi, mu):  # noqa: N802 - peer notation
    return phi * (mu.r * mu.e1s**a / (phi + kappa * mu.e1s) ** b
                  + (1 - mu.r) * mu.e2s**a / (phi + kappa * mu.e2s) ** b)


def I_t(a, b, kappa, phi, mu):  # noqa: N802 - peer notation
    return phi * (mu.r * mu.e1s ** (a - 1) * mu.e1t / (phi + kappa * mu.e1s) ** b
                  + (1 - mu.r) * mu.e2s ** (a - 1) * mu.e2t / (phi + kappa * mu.e2s) ** b)


def peer_kappa(phi, psi, gamma, mu, tolerance=1e-7, max_iter=10**6):
    """The peer's fixed-point iteration (``utils.solve_kappa``, mode 'FP'), with an iteration cap."""
    rho_s, omega_s = 0.25, mu.src_tr() * (1 - 2 / np.pi)
    kappa = 1.0
    for _ in range(max_iter):
        if not kappa > 0:  # the iteration left the domain (their code would raise here)
            return math.nan
        t = (math.sqrt((psi - phi) ** 2 + 4 * kappa * psi * phi * gamma / rho_s) + psi - phi) / 2 / psi
        nxt = (1 - t) / (omega_s + I_s(1, 1, kappa, phi, mu))
        if abs(nxt - kappa) <= tolerance:
            return nxt
        kappa = nxt
    return math.nan


def peer_disagreements(phi, psi, gamma, sigma_ep, mu, kappa) -> dict[str, float]:
    """I, SS, SW disagreements, source (_s) and target (_t): the peer's formulas.

    γ > 0: ``deviation.py`` (source and target) / ``simulate_ridge.py`` (target);
    γ = 0: ``asymptotics.py`` (both sides of the interpolation threshold).
    """
    rho_s = rho_t = 0.25
    omega_s = mu.src_tr() * (1 - 2 / np.pi)
    omega_t = mu.tgt_tr() * (1 - 2 / np.pi)
    s2 = sigma_ep**2
    Is = lambda a, b: I_s(a, b, kappa, phi, mu)  # noqa: E731
    It = lambda a, b: I_t(a, b, kappa, phi, mu)  # noqa: E731
    out = {}
    for side, rho_x, omega_x, Ix in (("s", rho_s, omega_s, Is), ("t", rho_t, omega_t, It)):
        if gamma > 0:
            tau = ((math.sqrt((psi - phi) ** 2 + 4 * kappa * psi * phi * gamma / rho_s) + psi - phi)
                   / 2 / psi / gamma)
            tau_bar = 1 / gamma + psi / phi * (tau - 1 / gamma)
            d_i = (2 * rho_x * psi * kappa
                   / (phi * gamma + rho_s * gamma * (tau * psi + tau_bar * phi) * (omega_s + phi * Is(1, 2)))
                   * (gamma * tau * (omega_x + phi * Ix(1, 2)) * Is(2, 2)
                      + (s2 + Is(1, 1)) * (omega_s + phi * Is(1, 2)) * (omega_x + Ix(1, 1))
                      + phi / psi * gamma * tau_bar * (s2 + phi * Is(1, 2)) * Ix(2, 2)))
        else:
            d_i = (2 * rho_x * psi * kappa * (s2 + Is(1, 1)) * (omega_x + Ix(1, 1)) / rho_s / abs(phi - psi))
            if phi > psi:
                d_i += (2 * rho_x * kappa * (s2 + phi * Is(1, 2)) * Ix(2, 2) / rho_s
                        / (omega_s + phi * Is(1, 2)))
            else:
                d_i += (2 * rho_x * kappa * (omega_x + phi * Ix(1, 2)) * Is(2, 2) / rho_s
                        / (omega_s + phi * Is(1, 2)))
        d_ss = d_i - (2 * rho_x * kappa**2 * (s2 + phi * Is(1, 2)) * Ix(2, 2) / rho_s
                      / (1 - kappa**2 * Is(2, 2)))
        d_sw = d_i - (2 * rho_x * psi * kappa**2 * (omega_x + phi * Ix(1, 2)) * Is(2, 2) / rho_s
                      / (phi - psi * kappa**2 * Is(2, 2)))
        out[f"I_{side}"], out[f"SS_{side}"], out[f"SW_{side}"] = d_i, d_ss, d_sw
    return out


def ours(phi, psi, gamma, sigma_ep, mu) -> tuple[dict[str, float], float]:
    res = rf.asymptotics(mu.spectrum(), phi=phi, psi=psi, gamma=gamma, noise_var=sigma_ep**2)
    d, di = res.disagreement, res.disagreement_id
    vals = {"I_s": di.independent, "SS_s": di.shared_data, "SW_s": di.shared_features,
            "I_t": d.independent, "SS_t": d.shared_data, "SW_t": d.shared_features}
    return {k: float(v) for k, v in vals.items()}, float(res.kappa)


MUS = {
    "A": Mu(0.4, 0.1, 1.0, 1.0, 0.1),  # asymptotics.py / deviation.py
    "B": Mu(0.5, 1.5, 1.0, 5.0, 1.0),  # simulate_ridge.py
    "C": Mu(0.3, 2.0, 0.5, 0.5, 2.0),  # ours: swapped directions
}
#: (μ, φ, ψ, γ, σ_ep): over- and under-parameterised, ridgeless and ridge.
CONFIGS = [
    (mu, phi, psi, gamma, sig)
    for mu, phi, psi, gamma, sig in [
        ("A", 0.5, 0.1, 0.0, 0.01), ("A", 0.5, 0.3, 0.0, 0.01), ("A", 0.5, 2.0, 0.0, 0.01),
        ("A", 0.5, 10.0, 0.0, 0.01), ("A", 0.5, 0.2, 0.1, 0.01), ("A", 0.5, 0.2, 1e-2, 0.01),
        ("A", 0.5, 0.45, 1e-3, 0.01), ("A", 0.5, 1.5, 1e-2, 0.5),
        ("B", 0.5, 0.1, 0.01, 0.5), ("B", 0.5, 0.25, 0.01, 0.5), ("B", 0.5, 1.0, 0.01, 0.5),
        ("B", 0.5, 0.2, 0.0, 0.5), ("B", 0.5, 3.0, 0.0, 0.5), ("B", 2.0, 0.5, 0.0, 0.1),
        ("B", 2.0, 4.0, 0.1, 0.1), ("B", 1.0, 0.5, 1.0, 1.0),
        ("C", 0.8, 0.2, 0.0, 0.3), ("C", 0.8, 1.6, 0.0, 0.3), ("C", 0.8, 0.4, 0.05, 0.3),
        ("C", 3.0, 1.0, 0.0, 0.0), ("C", 3.0, 6.0, 0.01, 0.0), ("C", 0.3, 0.1, 0.2, 0.7),
        ("C", 0.3, 0.9, 0.0, 0.7), ("C", 1.5, 0.3, 1e-3, 0.2),
    ]
]


def compare() -> list[dict]:
    rows = []
    for name, phi, psi, gamma, sig in CONFIGS:
        mu = MUS[name]
        mine, kappa = ours(phi, psi, gamma, sig, mu)
        k_peer = peer_kappa(phi, psi, gamma, mu)
        at_peer = (peer_disagreements(phi, psi, gamma, sig, mu, k_peer) if math.isfinite(k_peer)
                   else dict.fromkeys(QUANTITIES, math.nan))
        at_ours = peer_disagreements(phi, psi, gamma, sig, mu, kappa)
        rows.append(dict(
            mu=name, phi=phi, psi=psi, gamma=gamma, sigma_ep=sig, kappa=kappa,
            kappa_rel=abs(k_peer - kappa) / kappa,
            rel_peer_kappa=max(abs(at_peer[q] - mine[q]) / abs(mine[q]) for q in QUANTITIES),
            rel_our_kappa=max(abs(at_ours[q] - mine[q]) / abs(mine[q]) for q in QUANTITIES),
            values=mine,
        ))
    return rows


def main() -> int:
    rows = compare()
    print(f"{'mu':>3} {'phi':>5} {'psi':>5} {'gamma':>6} {'sig':>5} {'kappa':>9} {'|dk|/k':>9} "
          f"{'max rel (peer k)':>17} {'max rel (our k)':>16}  I_t SS_t SW_t (rfshift)")
    for r in rows:
        v = r["values"]
        print(f"{r['mu']:>3} {r['phi']:5.2f} {r['psi']:5.2f} {r['gamma']:6.3g} {r['sigma_ep']:5.2f} "
              f"{r['kappa']:9.5f} {r['kappa_rel']:9.2e} {r['rel_peer_kappa']:17.2e} "
              f"{r['rel_our_kappa']:16.2e}"
              f"  {v['I_t']:.5f} {v['SS_t']:.5f} {v['SW_t']:.5f}")
    ok = [r for r in rows if math.isfinite(r["rel_peer_kappa"])]
    print(f"\n{len(rows)} configurations; max relative difference over the six disagreements "
          f"(I, SS, SW; source, target): {max(r['rel_our_kappa'] for r in rows):.2e} with rfshift's κ "
          f"(all {len(rows)}); {max(r['rel_peer_kappa'] for r in ok):.2e} with the peer's own κ "
          f"({len(ok)} where their fixed-point iteration converges; on {len(rows) - len(ok)} it "
          f"leaves the domain κ > 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
