"""Generate tests/data/activation_reference.json: Gaussian-equivalence constants of every built-in
activation on a log grid of variances, by mpmath quadrature independent of rfshift.

    PYTHONPATH=$PWD python tests/make_activation_reference.py            # writes the table
    PYTHONPATH=$PWD python tests/make_activation_reference.py tanh erf   # recompute those rows
    PYTHONPATH=$PWD python tests/make_activation_reference.py --compare  # rfshift's errors vs it

The full table takes ~10 minutes on one core.

Method (for g = √v z, z ~ N(0, 1)):
* μ0 = E σ(g), μ1 = E[g σ(g)]/v and μ⊥² = E[(σ(g) − μ0 − μ1 g)²] (the residual, never
  E σ² − μ0² − v μ1²), each by mpmath tanh-sinh quadrature in z;
* the z axis is split at 0, at every kink b/√v and at the bend scale ±c/√v, c ∈ {1/8, 1/2, 2, 8, 32,
  128} (where σ changes shape when its input is O(1)), and around a kink b at b/√v ± c/max(1, |b|/√v)
  (the Gaussian's own decay scale past a far kink);
* working precision 40 digits plus 2 per decade of v below 1 (the residual is ~v^{3/2} against
  σ ~ v^{1/2} at small v), so the stored 25 significant digits are exact;
* hardtanh at v < 1/4 (kinks beyond 2 standard deviations, where the residual lives in a tail of
  relative size e^{-1/(2v)}) uses its exact Gaussian integrals written with mpmath's erfc/npdf at the
  same working precision, cross-checked here against the quadrature at v = 1/4, 1/16 and 1e-2 (to
  1e-20 relative; the quadrature itself loses digits there to the residual T·x, T ~ 1e-23, on |g| < 1).

Only mpmath is used; the activations are written out below, independently of rfshift's NumPy ones.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import time
from pathlib import Path

import mpmath as mp

OUT = Path(__file__).with_name("data") / "activation_reference.json"
EXPONENTS = [k / 2 for k in range(-24, 25)]  # v = 10^e, e = -12, -11.5, ..., 12
BEND = [mp.mpf(1) / 8, mp.mpf(1) / 2, 2, 8, 32, 128]


def _softplus(x):
    return x + mp.log1p(mp.exp(-x)) if x > 0 else mp.log1p(mp.exp(x))


FUNCS = {
    "relu": (lambda x: x if x > 0 else mp.mpf(0), (0,)),
    "leaky_relu": (lambda x: x if x > 0 else mp.mpf("0.01") * x, (0,)),
    "erf": (mp.erf, ()),
    "tanh": (mp.tanh, ()),
    "sigmoid": (lambda x: 1 / (1 + mp.exp(-x)), ()),
    "softplus": (_softplus, ()),
    "gelu": (lambda x: x * mp.erfc(-x / mp.sqrt(2)) / 2, ()),
    "silu": (lambda x: x / (1 + mp.exp(-x)), ()),
    "elu": (lambda x: x if x > 0 else mp.expm1(x), (0,)),
    "hardtanh": (lambda x: max(-mp.mpf(1), min(mp.mpf(1), x)), (-1, 1)),
    "abs": (abs, (0,)),
    "linear": (lambda x: x, ()),
    "quadratic": (lambda x: x * x, ()),
}


def _dps(v) -> int:
    return 40 + max(0, int(2 * -mp.log10(v)) + 2)


def quad_constants(name: str, v) -> tuple:
    """(μ0, μ1, μ⊥²) by split tanh-sinh quadrature (current mp precision)."""
    f, kinks = FUNCS[name]
    sd = mp.sqrt(v)
    pts = {mp.mpf(0)}
    for c in BEND:
        pts |= {c / sd, -c / sd}
    for b in kinks:
        if b:
            zb = mp.mpf(b) / sd
            pts.add(zb)
            for c in BEND:
                pts |= {zb + c / max(1, abs(zb)), zb - c / max(1, abs(zb))}
    edges = [-mp.inf, *sorted(pts), mp.inf]

    def expect(h):
        pieces = itertools.pairwise(edges)
        return mp.fsum(mp.quad(lambda z: h(sd * z) * mp.npdf(z), [a, b]) for a, b in pieces)

    m0 = expect(f)
    m1 = expect(lambda x: x * f(x)) / v
    mp2 = expect(lambda x: (f(x) - m0 - m1 * x) ** 2)
    return m0, m1, mp2


def hardtanh_exact(v) -> tuple:
    """clip(g, -1, 1), a = 1/√v, T = P(|g| > 1) = erfc(a/√2): μ0 = 0, μ1 = 1 − T and
    E σ² = v(μ1 − 2aφ(a)) + T, so μ⊥² = E σ² − v μ1² = v T (1 − T) + T − 2√v φ(a) (all three terms
    are O(e^{-a²/2}); they cancel to relative O(v²), which the working precision covers)."""
    a = 1 / mp.sqrt(v)
    tail = mp.erfc(a / mp.sqrt(2))
    return mp.mpf(0), 1 - tail, v * tail * (1 - tail) + tail - 2 * mp.sqrt(v) * mp.npdf(a)


ODD = {"erf", "tanh", "hardtanh", "linear"}  # μ0 = 0 exactly
EVEN = {"abs", "quadratic"}  # μ1 = 0 exactly


def reference(name: str, v) -> tuple:
    m0, m1, mp2 = hardtanh_exact(v) if name == "hardtanh" and v < mp.mpf(1) / 4 else quad_constants(name, v)
    if name in ODD:
        m0 = mp.mpf(0)
    if name == "sigmoid":  # σ − 1/2 is odd
        m0 = mp.mpf(1) / 2
    if name in EVEN:
        m1 = mp.mpf(0)
    if name == "linear":  # the residual is exactly 0 (quadrature leaves ~1e-70 of rounding)
        m1, mp2 = mp.mpf(1), mp.mpf(0)
    return m0, m1, mp2


def relative_errors(name: str, row: list[str], c) -> tuple[float, float, float]:
    """Errors of rfshift's constants ``c`` against one table row: relative where the reference is
    non-zero; where it is exactly zero (by symmetry) the value is measured against the scale of σ
    (√E σ² for μ0, √(E σ²/v) for μ1); μ⊥² below the normal float64 range is compared absolutely."""
    v, m0, m1, mp2 = (float(x) for x in row)
    second = m0 * m0 + v * m1 * m1 + mp2
    e0 = abs(c.mu0 - m0) / abs(m0) if m0 else abs(c.mu0) / math.sqrt(second)
    e1 = abs(c.mu1 - m1) / abs(m1) if m1 else abs(c.mu1) * math.sqrt(v / second)
    e2 = abs(c.mu_perp2 - mp2) / mp2 if mp2 >= sys.float_info.min else abs(c.mu_perp2 - mp2) / second
    return e0, e1, e2


def compare() -> None:
    import rfshift as rf

    table = json.loads(OUT.read_text())
    print(f"{'activation':<11} {'max rel err mu0':>16} {'mu1':>10} {'mu_perp2':>10}   (v = 1e-12 .. 1e12)")
    for name, rows in table["values"].items():
        worst = [0.0, 0.0, 0.0]
        for row in rows:
            errs = relative_errors(name, row, rf.activation_constants(name, float(row[0])))
            worst = [max(w, e) for w, e in zip(worst, errs, strict=True)]
        print(f"{name:<11} {worst[0]:>16.2e} {worst[1]:>10.2e} {worst[2]:>10.2e}")


def main() -> None:
    if sys.argv[1:] == ["--compare"]:
        compare()
        return
    table = {"method": __doc__.strip().splitlines()[0], "exponents": EXPONENTS, "values": {}}
    t0 = time.time()
    for v_chk in (mp.mpf(1) / 4, mp.mpf(1) / 16, mp.mpf("1e-2")):  # the closed form vs quadrature
        with mp.workdps(_dps(v_chk)):
            a, b = hardtanh_exact(v_chk), quad_constants("hardtanh", v_chk)
            for x, y in zip(a[1:], b[1:], strict=True):
                assert abs(x - y) <= mp.mpf(10) ** -20 * abs(y), (v_chk, x, y)
    names = sys.argv[1:] or list(FUNCS)  # names given: recompute those rows of the existing table
    if sys.argv[1:]:
        table = json.loads(OUT.read_text())
    for name in names:
        rows = []
        for e in EXPONENTS:
            with mp.workdps(_dps(mp.mpf(10) ** e)):
                v = mp.mpf(10) ** e
                vf = float(v)
                v = mp.mpf(vf)  # the exact binary variance the package sees
                rows.append([repr(vf), *(mp.nstr(x, 25) for x in reference(name, v))])
        table["values"][name] = rows
        print(f"{name}: done ({time.time() - t0:.0f} s)", flush=True)
    OUT.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
