"""Symbolic formulas (sympy) and the arbitrary-precision engine (mpmath).

* :func:`equations` / :func:`latex_equations`: the fixed point and error formulas of THEORY.md §4–6
  and §8 as sympy expressions and their LaTeX.
* :func:`fixed_point_polynomial`: for a finite-atom spectrum with rational data (and rational
  activation constants ρ = μ1², μ⊥²), the fixed point as a polynomial in k_x = φ/κ with exact
  rational coefficients and a certified isolating interval of the physical root.
* :func:`isotropic_ridgeless_kx`, :func:`isotropic_error_ridgeless`: closed forms for Σ = λ I.
* :func:`asymptotics_mp`: one parameter point re-solved in arbitrary precision (mpmath), returning
  mpf values; used to check the float64 engine near the interpolation peak.

sympy and mpmath are imported lazily, so importing this module is cheap and ``import rfshift`` never
pays for sympy.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ._anova import variance_parts
from .activations import Activation, get_activation
from .spectra import Spectrum

__all__ = [
    "FixedPointPolynomial",
    "MPAsymptotics",
    "asymptotics_mp",
    "equations",
    "fixed_point_polynomial",
    "isotropic_error_ridgeless",
    "isotropic_ridgeless_kx",
    "latex_equations",
    "symbols",
]


# --- symbols and equations -----------------------------------------------------------------------


def symbols() -> dict[str, Any]:
    """The sympy symbols used by :func:`equations` (positive reals unless noted)."""
    import sympy as sp

    pos = dict(positive=True)
    nn = dict(nonnegative=True)
    s = {
        "phi": sp.Symbol("phi", **pos), "psi": sp.Symbol("psi", **nn), "gamma": sp.Symbol("gamma", **nn),
        "kappa": sp.Symbol("kappa", **pos), "k_x": sp.Symbol("k_x", **pos),
        "rho": sp.Symbol("rho", **pos), "omega": sp.Symbol("omega", **nn),
        "rho_star": sp.Symbol("rho^*", **pos), "omega_star": sp.Symbol("omega^*", **nn),
        "r": sp.Symbol("r", real=True), "sigma2": sp.Symbol("sigma^2", **nn),
        "lam": sp.Symbol("lambda", **nn), "lam_star": sp.Symbol("lambda^*", **nn),
        "u": sp.Symbol("u", **pos), "t": sp.Symbol("t", **nn), "t_bar": sp.Symbol(r"\bar{t}", **nn),
        "mu1": sp.Symbol("mu_1", real=True), "mu_perp2": sp.Symbol(r"mu_\perp^2", **nn),
        "a": sp.Symbol("a", integer=True), "b": sp.Symbol("b", integer=True),
        "D": sp.Symbol("D", **pos), "K": sp.Symbol("K", **nn),
    }
    for name in ("I11", "I12", "I22", "Is11", "Is12", "Is22"):
        star = "^*" if name.startswith("Is") else ""
        ab = name[-2:]
        s[name] = sp.Symbol(f"I{star}_{{{ab[0]},{ab[1]}}}", **nn)
    s["mu"] = sp.Function("mu")
    return s


def equations() -> dict[str, Any]:
    """THEORY.md formulas as sympy objects (``Eq`` for definitions/equations, keyed by name).

    Keys: ``I_ab``, ``u``, ``t``, ``t_bar``, ``fixed_point``, ``master_kx``, ``D``, ``bias``,
    ``variance``, ``error``, ``variance_ridgeless_over``, ``variance_ridgeless_under``,
    ``variance_kernel``, ``weight``, ``F``, ``error_split``, ``linear_slope``, ``linear_intercept``.
    Moments I_{a,b} appear as symbols (I_{1,1}, I^*_{1,1}, ...) defined by ``I_ab``.

    Examples
    --------
    >>> from rfshift.symbolic import equations
    >>> print(equations()["fixed_point"])
    Eq(kappa*(I_{1,1} + omega), 1 - t)
    """
    import sympy as sp

    S = symbols()
    phi, psi, gamma, kappa, kx = S["phi"], S["psi"], S["gamma"], S["kappa"], S["k_x"]
    rho, omega, rho_s, omega_s = S["rho"], S["omega"], S["rho_star"], S["omega_star"]
    r, s2 = S["r"], S["sigma2"]
    lam, u, t, tb = S["lam"], S["u"], S["t"], S["t_bar"]
    I11, I12, I22, Is11, Is12, Is22 = (S[k] for k in ("I11", "I12", "I22", "Is11", "Is12", "Is22"))
    a, b, mu = S["a"], S["b"], S["mu"]
    Iab = sp.Function("I")(a, b)
    eqs: dict[str, Any] = {}
    # THEORY.md §4
    eqs["I_ab"] = sp.Eq(Iab, phi * sp.Integral(lam**a / (phi + kappa * lam) ** b * mu(lam), (lam, 0, sp.oo)))
    eqs["u"] = sp.Eq(u, phi / (phi + kappa * lam))
    root = sp.sqrt((psi - phi) ** 2 + 4 * kappa * psi * phi * gamma / rho)
    eqs["t"] = sp.Eq(t, (root + psi - phi) / (2 * psi))
    eqs["t_bar"] = sp.Eq(tb, 1 + (psi / phi) * (t - 1))
    eqs["fixed_point"] = sp.Eq(kappa * (omega + I11), 1 - t)
    mu1, mup2 = S["mu1"], S["mu_perp2"]
    A = mu1**2 * kx
    a1 = sp.Symbol("a_1", nonnegative=True)
    kf = A * (1 / psi - a1) - mup2
    ks = A * (1 / phi - a1) - mup2
    eqs["master_kx"] = sp.Eq(gamma * mu1**2 * kx, psi * kf * ks)
    # THEORY.md §5
    D = phi * gamma + rho * (t * psi + tb * phi) * (omega + phi * I12)
    eqs["D"] = sp.Eq(S["D"], D)
    eqs["bias"] = sp.Eq(sp.Symbol("B^*"),
                        sp.Integral(S["lam_star"] * ((1 - r) + r * u) ** 2 * mu(lam), (lam, 0, sp.oo)))
    # the one home of this assembly is rfshift._anova; kp = 1 there and the prefactor K/ψ = ρ*κ/D
    # outside keeps the displayed formula in THEORY.md's factored shape
    V = (rho_s * kappa / S["D"]) * sp.Add(*variance_parts(
        1, phi=phi, psi=psi, t=t, t_bar=tb, noise_var=s2, omega=omega, i11=I11,
        phi_i12=phi * I12, i22=I22, omega_x=omega_s, ix11=Is11, phi_ix12=phi * Is12, ix22=Is22))
    eqs["variance"] = sp.Eq(sp.Symbol("V^*"), V)
    eqs["error"] = sp.Eq(sp.Symbol("E^*"), sp.Symbol("B^*") + sp.Symbol("V^*"))
    c = rho_s / rho
    eqs["variance_ridgeless_over"] = sp.Eq(
        sp.Symbol("V^*_{\\psi<\\phi}"),
        c * psi * kappa * (s2 + I11) * (omega_s + Is11) / (phi - psi)
        + c * kappa * (s2 + phi * I12) * Is22 / (omega + phi * I12))
    eqs["variance_ridgeless_under"] = sp.Eq(
        sp.Symbol("V^*_{\\psi>\\phi}"),
        c * psi * kappa * (s2 + I11) * (omega_s + Is11) / (psi - phi)
        + c * kappa * (omega_s + phi * Is12) * I22 / (omega + phi * I12))
    eqs["variance_kernel"] = sp.Eq(
        sp.Symbol("V^*_{\\psi=0}"), c * kappa * (s2 + phi * I12) * Is22 / (gamma / rho + omega + phi * I12))
    # THEORY.md §6
    K = S["K"]
    w = ((1 - r) + r * u) ** 2 + K * t * I22 * u**2 + K * (s2 + I11) * (omega + phi * I12) * u \
        + K * (phi / (psi * kappa)) * tb * (s2 + phi * I12) * u * (1 - u)
    eqs["weight"] = sp.Eq(sp.Function("w")(u), w)
    eqs["F"] = sp.Eq(sp.Symbol("F"), K * omega_s * (t * I22 + (s2 + I11) * (omega + phi * I12)))
    eqs["error_split"] = sp.Eq(
        sp.Symbol("E^*"),
        sp.Symbol("F") + sp.Integral(sp.Function("w")(u) * S["lam_star"] * mu(lam), (lam, 0, sp.oo)))
    # THEORY.md §8
    eqs["linear_slope"] = sp.Eq(sp.Symbol("slope"), (rho_s / rho) * (omega_s + Is11) / (omega + I11))
    a_id, a_ood = sp.Symbol("a_{ID}"), sp.Symbol("a_{OOD}")
    eqs["linear_intercept"] = sp.Eq(sp.Symbol("intercept"), a_ood - sp.Symbol("slope") * a_id)
    return eqs


def latex_equations() -> dict[str, str]:
    """LaTeX of every entry of :func:`equations` (for display, e.g. the app's Formulas page).

    Examples
    --------
    >>> from rfshift.symbolic import latex_equations
    >>> print(latex_equations()["u"])
    u = \\frac{\\phi}{\\kappa \\lambda + \\phi}
    """
    import sympy as sp

    return {k: sp.latex(v) for k, v in equations().items()}


# --- exact polynomial fixed point ----------------------------------------------------------------


def _rational(x: object, name: str) -> Any:
    import sympy as sp

    if isinstance(x, bool):
        raise TypeError(f"{name} must be a rational number, got a boolean")
    if isinstance(x, sp.Rational):
        return x
    if isinstance(x, (int, Fraction)):
        return sp.Rational(x)
    if isinstance(x, str):
        try:
            return sp.Rational(x)
        except (TypeError, ValueError, sp.SympifyError):
            raise ValueError(f"{name} = {x!r} is not a rational number") from None
    if isinstance(x, float) or hasattr(x, "__float__"):
        xf = float(x)  # the shortest decimal that round-trips, e.g. 0.3 -> 3/10
        if xf != xf or xf in (float("inf"), float("-inf")):
            raise ValueError(f"{name} must be finite, got {x!r}")
        return sp.Rational(repr(xf))
    raise TypeError(f"{name} must be a rational number (int, Fraction, str or float), got {type(x).__name__}")


@dataclass(frozen=True)
class FixedPointPolynomial:
    """The fixed point of THEORY-derivation.md (M) as an exact polynomial in k_x (k_x = φ/κ).

    ``poly`` (sympy ``Poly`` in ``k_x`` over QQ); ``interval`` = (lo, hi), exact rationals isolating
    the physical root (the largest real root, see :func:`fixed_point_polynomial`); ``root``: that root
    as an mpf to ``digits`` digits; ``kappa`` = φ/root; ``real_roots``: isolating intervals of all
    real roots.
    """

    poly: Any
    interval: tuple[Any, Any]
    root: Any
    kappa: Any
    real_roots: list[tuple[Any, Any]]
    digits: int


def fixed_point_polynomial(
    spec: Spectrum | None = None,
    *,
    lam: object | None = None,
    weights: object | None = None,
    phi: object,
    psi: object,
    gamma: object,
    activation: str = "linear",
    rho: object | None = None,
    mu_perp2: object | None = None,
    digits: int = 30,
) -> FixedPointPolynomial:
    """Exact rational polynomial for the fixed point and certified isolation of its physical root.

    With A = ρ k, a1(k) = Σ p_j λ_j/(λ_j + k), κ_f = A(1/ψ − a1) − μ⊥², κ_s = A(1/φ − a1) − μ⊥², the
    master equation γ ρ k = ψ κ_f κ_s (THEORY-derivation.md §3) times Π_j (λ_j + k)² is a polynomial
    of degree 2·#atoms + 2 in k with rational coefficients when λ, p, φ, ψ, γ, ρ, μ⊥² are rational.

    Physical root: on (k_x0, ∞) the map k ↦ ψκ_fκ_s/(ρk) increases strictly from 0 to ∞ (k_x0 the
    upward zero of ρk(1/max(φ, ψ) − a1) − μ⊥²), so the equation has exactly one root there, and no
    root of the polynomial exceeds it: the physical root is the **largest real root**. Its isolating
    interval comes from sympy's certified real-root isolation (``Poly.intervals``, continued-fraction
    method, exact rational arithmetic) and is refined to width < 10^-digits.

    Data: ``spec`` (floats are read as their shortest decimal, 0.3 → 3/10) or ``lam``/``weights`` as
    ints, Fractions or strings like "3/10". Activation constants must be rational: ``activation =
    "linear"`` gives ρ = 1, μ⊥² = 0; for other activations pass ``rho`` (= μ1²) and ``mu_perp2``
    (ReLU's μ⊥² = s(1/4 − 1/(2π)) is irrational, so give a rational value of your choice).

    Examples
    --------
    >>> from rfshift.symbolic import fixed_point_polynomial
    >>> fp = fixed_point_polynomial(lam=["3/2", "1/2"], phi="1/2", psi="1/4", gamma="1/10")
    >>> fp.poly.degree(), round(float(fp.root), 12), float(fp.interval[1] - fp.interval[0]) < 1e-30
    (6, 0.113421204455, True)
    """
    import mpmath
    import sympy as sp

    if spec is not None:
        if not isinstance(spec, Spectrum):
            raise TypeError(f"spec must be an rfshift.Spectrum, got {type(spec).__name__}")
        if lam is not None or weights is not None:
            raise ValueError("give either spec or lam/weights, not both")
        lam_q = [_rational(x, "lam") for x in spec.lam]
        w_raw = [_rational(x, "weights") for x in spec.weights]
    else:
        if lam is None:
            raise ValueError("give spec or lam")
        lam_list = list(lam) if not isinstance(lam, (str, int, float, Fraction)) else [lam]
        lam_q = [_rational(x, "lam") for x in lam_list]
        w_raw = ([sp.Integer(1)] * len(lam_q) if weights is None
                 else [_rational(x, "weights") for x in weights])  # type: ignore[union-attr]
        if len(w_raw) != len(lam_q):
            raise ValueError(f"weights must have the same length as lam, got {len(w_raw)} and {len(lam_q)}")
    if not lam_q:
        raise ValueError("lam is empty")
    if any(x < 0 for x in lam_q) or any(x < 0 for x in w_raw) or sum(w_raw) <= 0:
        raise ValueError("lam and weights must be >= 0 with a positive total weight")
    total = sum(w_raw)
    p_q = [x / total for x in w_raw]
    if sum(pi * li for pi, li in zip(p_q, lam_q, strict=True)) <= 0:
        raise ValueError("the training covariance is zero (lam needs a positive atom)")
    phi_q, psi_q, gamma_q = (_rational(v, n) for v, n in ((phi, "phi"), (psi, "psi"), (gamma, "gamma")))
    if phi_q <= 0:
        raise ValueError(f"phi must be > 0, got {phi!r}")
    if psi_q < 0 or gamma_q < 0:
        raise ValueError(f"psi and gamma must be >= 0, got psi={psi!r}, gamma={gamma!r}")
    if activation == "linear" and rho is None and mu_perp2 is None:
        rho_q, mp2_q = sp.Integer(1), sp.Integer(0)
    else:
        if rho is None or mu_perp2 is None:
            raise ValueError(
                f"activation {activation!r}: pass rational rho (= mu1^2) and mu_perp2 explicitly; only "
                "'linear' has built-in rational constants (rho = 1, mu_perp2 = 0)")
        rho_q, mp2_q = _rational(rho, "rho"), _rational(mu_perp2, "mu_perp2")
        if rho_q <= 0 or mp2_q < 0:
            raise ValueError("rho must be > 0 and mu_perp2 >= 0")
    if not (isinstance(digits, int) and 5 <= digits <= 1000):
        raise ValueError(f"digits must be an integer in [5, 1000], got {digits!r}")

    k = sp.Symbol("k_x", positive=True)
    # merge equal λ
    merged: dict[Any, Any] = {}
    for li, pi in zip(lam_q, p_q, strict=True):
        merged[li] = merged.get(li, 0) + pi
    atoms = sorted(merged.items())
    Pi = sp.prod([(li + k) for li, _ in atoms])
    N1 = sp.Add(*[pi * li * sp.prod([(lj + k) for lj, _ in atoms if lj != li]) for li, pi in atoms])
    # ψκ_f·Π = ρk(Π − ψN1) − ψμ⊥²Π ;  κ_s·Π = ρk(Π/φ − N1) − μ⊥²Π
    f_psi = rho_q * k * (Pi - psi_q * N1) - psi_q * mp2_q * Pi
    f_phi = rho_q * k * (Pi / phi_q - N1) - mp2_q * Pi
    expr = sp.expand(f_psi * f_phi - gamma_q * rho_q * k * Pi**2)
    poly = sp.Poly(expr, k, domain=sp.QQ)
    if poly.is_zero:
        raise ValueError("the fixed-point polynomial vanishes identically (degenerate data)")
    ivs = [iv for iv, _mult in poly.intervals()]
    if not ivs:
        raise ValueError("the fixed-point polynomial has no real root")
    lo, hi = max(ivs, key=lambda iv: iv[1])
    if hi <= 0:
        raise ValueError("the largest real root is <= 0: κ = ∞ (ridgeless linear model with at least as "
                         "many samples as non-null directions); there is no finite physical root")
    eps = sp.Rational(1, 10**digits)
    lo, hi = poly.refine_root(lo, hi, eps=eps * max(1, abs(hi)))
    with mpmath.workdps(digits + 10):
        a_, b_ = mpmath.mpf(lo.p) / lo.q, mpmath.mpf(hi.p) / hi.q
        f = sp.lambdify(k, poly.as_expr(), "mpmath")
        try:
            root = mpmath.findroot(f, (a_, b_), solver="anderson")
        except (ValueError, ZeroDivisionError):  # pragma: no cover - fall back to the midpoint
            root = (a_ + b_) / 2
        if not (a_ <= root <= b_):
            root = (a_ + b_) / 2
        kappa = mpmath.mpf(phi_q.p) / phi_q.q / root
    return FixedPointPolynomial(poly=poly, interval=(lo, hi), root=root, kappa=kappa,
                                real_roots=[tuple(iv) for iv in ivs], digits=digits)


def isotropic_ridgeless_kx() -> tuple[Any, Any]:
    """Closed-form ridgeless k_x for Σ = λ I (one atom): the positive root of the quadratic

        ρ q k² + (ρ q λ − ρ λ − μ⊥²) k − μ⊥² λ = 0,   q = 1/max(φ, ψ)

    (THEORY-derivation.md §3, ridgeless: ρk(q − λ/(λ + k)) = μ⊥² times (λ + k)). Returns
    ``(expression, symbols)`` with symbols λ, q, ρ, μ⊥² (``symbols`` a dict).
    """
    import sympy as sp

    lam, q, rho, mp2 = sp.symbols("lambda q rho mu_perp2", positive=True)
    bq = rho * q * lam - rho * lam - mp2
    expr = (-bq + sp.sqrt(bq**2 + 4 * rho * q * mp2 * lam)) / (2 * rho * q)
    return expr, {"lam": lam, "q": q, "rho": rho, "mu_perp2": mp2}


def isotropic_error_ridgeless(overparameterised: bool = True) -> tuple[Any, dict[str, Any]]:
    """Closed-form ridgeless OOD error for Σ = λ I, Σ* = λ* I (THEORY.md §5 with one atom).

    With u = k/(λ + k), κ = φ/k, I_{1,1} = λu, φI_{1,2} = λu², κI_{2,2} = λu(1−u), I*_{1,1} = λ*u,
    φI*_{1,2} = λ*u², κI*_{2,2} = λ*u(1−u), B* = λ*((1−r) + ru)² and V* from the ridgeless formula
    (ψ < φ if ``overparameterised`` else ψ > φ). Substitute k from :func:`isotropic_ridgeless_kx`.
    Returns ``(expression, symbols)``.
    """
    import sympy as sp

    lam, lam_s, phi, psi, k, rho, omega, rho_s, omega_s, s2 = sp.symbols(
        "lambda lambda^* phi psi k_x rho omega rho^* omega^* sigma^2", positive=True)
    r = sp.sqrt(rho_s / rho)
    u = k / (lam + k)
    kappa = phi / k
    I11, phiI12, kI22 = lam * u, lam * u**2, lam * u * (1 - u)
    Is11, phiIs12, kIs22 = lam_s * u, lam_s * u**2, lam_s * u * (1 - u)
    c = rho_s / rho
    bias = lam_s * ((1 - r) + r * u) ** 2
    if overparameterised:
        var = c * psi * kappa * (s2 + I11) * (omega_s + Is11) / (phi - psi) \
            + c * (s2 + phiI12) * kIs22 / (omega + phiI12)
    else:
        var = c * psi * kappa * (s2 + I11) * (omega_s + Is11) / (psi - phi) \
            + c * (omega_s + phiIs12) * kI22 / (omega + phiI12)
    syms = dict(lam=lam, lam_star=lam_s, phi=phi, psi=psi, k_x=k, rho=rho, omega=omega, rho_star=rho_s,
                omega_star=omega_s, sigma2=s2)
    return bias + var, syms


# --- arbitrary precision -------------------------------------------------------------------------


@dataclass(frozen=True)
class MPAsymptotics:
    """One parameter point in arbitrary precision (mpmath ``mpf`` fields; ``inf`` at the peak)."""

    error: Any
    bias: Any
    variance: Any
    error_id: Any
    bias_id: Any
    variance_id: Any
    kappa: Any
    k_x: Any
    t: Any
    t_bar: Any
    precision: int

    def as_float(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in ("error", "bias", "variance", "error_id", "bias_id",
                                                      "variance_id", "kappa", "k_x", "t", "t_bar")}


_MP_BUILTINS = ("relu", "leaky_relu", "erf", "linear", "quadratic", "abs", "gelu", "hardtanh", "sigmoid",
                "tanh", "softplus", "silu", "elu")
# split points of the z = g/√v axis at the bend scale ±c/√v (as in rfshift.activations)
_MP_BEND = ("0.125", "0.5", "2", "8", "32", "128")

_MP_CACHE: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}


def _mp_constants(act: Activation, v: Any) -> tuple[Any, Any, Any]:
    """(μ0, μ1, μ⊥²) at variance v in the current mpmath precision (cached per name, v, precision)."""
    import mpmath as mp

    if act.name not in _MP_BUILTINS or get_activation(act.name) is not act:
        raise ValueError(
            f"activation {act.name!r} has no arbitrary-precision form; asymptotics_mp supports the "
            f"built-in activations: {', '.join(_MP_BUILTINS)}")
    key = (act.name, repr(v), mp.mp.prec)
    if key in _MP_CACHE:
        return _MP_CACHE[key]
    # Guard digits: at small v, μ⊥² is O(v²) times E σ² (smooth σ; hardtanh's closed form is
    # rearranged to the same O(v²) cancellation), and hardtanh's closed form is a difference of terms
    # O(√v) times larger than μ⊥² at large v: 2 digits per decade of v below 1, ½ per decade above
    # (hardtanh) keep the working precision (docs/theory.md §17).
    lv = float(mp.log10(v))
    extra = 10 + (2 * int(1 - lv) if lv < 0 else (int(lv / 2) + 1 if act.name == "hardtanh" else 0))
    with mp.workdps(mp.mp.dps + extra):
        out = _mp_constants_uncached(act.name, +v)
    out = tuple(+x for x in out)  # rounded to the caller's precision
    if len(_MP_CACHE) < 1024:
        _MP_CACHE[key] = out
    return out


def _mp_expect(h: Any, sd: Any, kinks: tuple[float, ...] = (), even: bool = False) -> Any:
    """E h(√v z) for z ~ N(0, 1) by tanh-sinh quadrature split at 0, the kinks and the bend scale.

    Beyond |z| = L the Gaussian weight is below 10^-(dps+10) and the built-in activations grow at most
    linearly, so [-L, L] loses nothing at this precision. ``even``: h(√v z) φ(z) is even in z.
    """
    import mpmath as mp

    L = mp.sqrt(2 * (mp.mp.dps + 10) * mp.log(10)) + 2
    pts = {mp.mpf(0)}
    for c in _MP_BEND:
        z = mp.mpf(c) / sd
        if z < L:
            pts |= {z, -z}
    pts |= {mp.mpf(b) / sd for b in kinks if abs(mp.mpf(b) / sd) < L}
    edges = [-L, *sorted(pts), L]
    if even:
        edges = [x for x in edges if x >= 0]
    total = mp.fsum(mp.quad(lambda z: h(sd * z) * mp.npdf(z), [lo, hi], method="tanh-sinh")
                    for lo, hi in itertools.pairwise(edges))
    return 2 * total if even else total


def _mp_constants_uncached(name: str, v: Any) -> tuple[Any, Any, Any]:
    """(μ0, μ1, μ⊥²) of a built-in: closed forms where they exist (in forms that cancel at most to
    relative O(v²), which the guard digits cover), else quadrature of the residual at the bend scale.
    The closed forms for GELU and hardtanh are derived in docs/theory.md §17; elu's follows from
    E[e^{kg} 1(g<0)] = e^{k²v/2} Φ(−k√v) (the float64 package integrates elu instead: independent)."""
    import mpmath as mp

    half = mp.mpf(1) / 2
    if name == "relu":  # THEORY.md §3: μ0 = √(v/2π), μ1 = 1/2, E σ² = v/2
        return mp.sqrt(v / (2 * mp.pi)), half, v * (half / 2 - 1 / (2 * mp.pi))
    if name == "leaky_relu":
        a = mp.mpf("0.01")
        return ((1 - a) * mp.sqrt(v / (2 * mp.pi)), (1 + a) / 2,
                (1 - a) ** 2 * v * (half / 2 - 1 / (2 * mp.pi)))
    if name == "abs":
        return mp.sqrt(2 * v / mp.pi), mp.mpf(0), v * (1 - 2 / mp.pi)
    if name == "linear":
        return mp.mpf(0), mp.mpf(1), mp.mpf(0)
    if name == "quadratic":
        return v, mp.mpf(0), 2 * v * v
    if name == "erf":  # μ1 = 2/√(π(1+2v)), E σ² = (2/π) asin(2v/(1+2v))
        x = 2 * v / (1 + 2 * v)
        return mp.mpf(0), 2 / mp.sqrt(mp.pi * (1 + 2 * v)), (2 / mp.pi) * (mp.asin(x) - x)
    if name == "gelu":  # activations._gelu_cf
        r = v / (1 + v)
        sq = mp.sqrt(1 + 2 * v)
        return (v / mp.sqrt(2 * mp.pi * (1 + v)), half,
                v * mp.atan(v / sq) / (2 * mp.pi) + v * r / (mp.pi * sq) - v * r / (2 * mp.pi))
    if name == "hardtanh":  # T = P(|g| > 1): μ1 = 1 − T, μ⊥² = vT(1 − T) + T − 2√v φ(1/√v)
        sd = mp.sqrt(v)
        tail = mp.erfc(1 / (sd * mp.sqrt(2)))
        return mp.mpf(0), 1 - tail, v * tail * (1 - tail) + tail - 2 * sd * mp.npdf(1 / sd)
    if name == "sigmoid":  # 1/2 + tanh(x/2)/2 with x/2 ~ N(0, v/4)
        _, m1, mp2 = _mp_constants_uncached("tanh", v / 4)
        return half, m1 / 4, mp2 / 4
    sd = mp.sqrt(v)
    if name == "tanh":
        m1 = _mp_expect(lambda x: x * mp.tanh(x), sd, even=True) / v
        return mp.mpf(0), m1, _mp_expect(lambda x: (mp.tanh(x) - m1 * x) ** 2, sd, even=True)
    if name in ("softplus", "silu"):  # σ = c0 + x/2 + h(x), h even: μ1 = 1/2 exactly
        if name == "softplus":
            def h(x: Any) -> Any:  # log(2 cosh(x/2))
                y = abs(x) / 2
                return y + mp.log1p(mp.exp(-2 * y))
        else:
            def h(x: Any) -> Any:
                return x * mp.tanh(x / 2) / 2
        m0 = _mp_expect(h, sd, even=True)
        return m0, half, _mp_expect(lambda x: (h(x) - m0) ** 2, sd, even=True)
    if name == "elu":  # E[e^{kg} 1(g<0)] = e^{k²v/2} Φ(−k√v), E[g 1(g>0)] = √(v/2π)
        e1 = mp.exp(v / 2) * mp.ncdf(-sd)
        e2 = mp.exp(2 * v) * mp.ncdf(-2 * sd)
        m0 = sd / mp.sqrt(2 * mp.pi) + e1 - half
        m1 = half + e1  # E σ'(g)
        second = v / 2 + e2 - 2 * e1 + half
        return m0, m1, second - m0**2 - v * m1**2
    raise AssertionError(name)  # pragma: no cover - _MP_BUILTINS lists exactly the cases above


def _illinois(f: Any, lo: Any, hi: Any, flo: Any, fhi: Any, tol: Any, maxiter: int = 2000) -> Any:
    """Bracketed root of a continuous f with f(lo) < 0 < f(hi) (Illinois regula falsi + bisection,
    geometric while hi/lo > 4 so that a bracket spanning many orders of magnitude closes quickly)."""
    side = 0
    for it in range(maxiter):
        if hi - lo <= tol * abs(hi):
            break
        # every 4th step bisects, geometrically when the bracket spans many octaves (lo > 0)
        mid = (lo * hi).sqrt() if lo > 0 and hi > 4 * lo else (lo + hi) / 2
        x = (lo * fhi - hi * flo) / (fhi - flo) if it % 4 != 3 else mid
        if not (lo < x < hi):
            x = mid
        fx = f(x)
        if fx == 0:
            return x
        if fx < 0:
            lo, flo = x, fx
            if side == -1:
                fhi /= 2
            side = -1
        else:
            hi, fhi = x, fx
            if side == 1:
                flo /= 2
            side = 1
    return (lo + hi) / 2


def _mp_point(act: Activation, spec: Spectrum, ph_q: Fraction, ps_q: Fraction, ga_q: Fraction,
              s2_q: Fraction, w_q: list[Fraction], g_q: Fraction, g_phi: Fraction, g_psi: Fraction,
              c_q: Fraction, dps: int, n_terms: int) -> tuple[list[Any], Any]:
    """:func:`asymptotics_mp` at the current working precision ``dps``.

    Returns the ten outputs (error, bias, variance, their ID twins, κ, k_x, t, t̄) and an estimate of
    their relative error from rounding: the larger of k_x's, n_terms·10^-dps times (rounding scale of
    the residual)/|k·residual'(k)| at the root, and the OOD bias's, whose (1 − r) + r u can cancel
    (docs/theory.md §17, "The certificate at a rank threshold")."""
    import mpmath as mp

    def mpq(x: Fraction) -> Any:
        return mp.mpf(x.numerator) / x.denominator

    ph, ps, ga, s2 = mpq(ph_q), mpq(ps_q), mpq(ga_q), mpq(s2_q)
    gq, gphi, gpsi, cc = mpq(g_q), mpq(g_phi), mpq(g_psi), mpq(c_q)
    lam = [mp.mpf(float(x)) for x in spec.lam]
    lam_s = [mp.mpf(float(x)) for x in spec.lam_star]
    tw = sum(w_q)
    p = [mpq(wi / tw) for wi in w_q]
    s = mp.fsum(pi * li for pi, li in zip(p, lam, strict=True))
    s_star = mp.fsum(pi * li for pi, li in zip(p, lam_s, strict=True))
    mu0, mu1, mup2 = _mp_constants(act, s)
    _, mu1_s, mup2_s = _mp_constants(act, s_star)
    # as the float64 engine: |μ1| ≤ 1e-12 √(E σ²/s) means no linear signal (scale-free test)
    if mu1 == 0 or mu1**2 * s <= mp.mpf(10) ** (-24) * (mu0**2 + s * mu1**2 + mup2):
        raise ValueError(f"activation {act.name!r} has mu1(s) = 0: unsupported (THEORY.md §3)")
    rho, rho_s = mu1**2, mu1_s**2
    mup2 = max(mup2, mp.mpf(0))
    mup2_s = max(mup2_s, mp.mpf(0))
    omega, omega_s, r = mup2 / rho, mup2_s / rho_s, mu1_s / mu1
    pos = [(pi, li) for pi, li in zip(p, lam, strict=True) if li > 0]

    def s_pos(k: Any) -> Any:  # Σ_{λ>0} p k/(λ + k) = μ(λ>0) − a1(k)
        return mp.fsum(pi * k / (li + k) for pi, li in pos)

    def ks_pos(k: Any) -> Any:  # k S'(k) = Σ_{λ>0} p kλ/(λ + k)²
        return mp.fsum(pi * k * li / (li + k) ** 2 for pi, li in pos)

    tol = mp.mpf(10) ** (-(dps - 8))

    def h(k: Any) -> Any:  # ρk(q − a1) − μ⊥²
        return rho * k * (gq + s_pos(k)) - mup2

    if mup2 == 0 and g_q >= 0:
        kx0 = mp.mpf(0)
    else:
        # k_x0 ~ μ⊥²/ρ can be as small as μ⊥² itself (e.g. e^{-1/(2v)} for hardtanh at small v):
        # step down by factors 2, 4, 16, 256, ... (mpf exponents are unbounded)
        lo, factor = s, mp.mpf(2)
        while h(lo) >= 0:
            lo /= factor
            factor *= factor
            if lo == 0:  # pragma: no cover - mpf does not underflow
                raise ArithmeticError("could not bracket k_x0")
        hi = 2 * s
        while h(hi) <= 0:
            hi *= 2
        kx0 = _illinois(h, lo, hi, h(lo), h(hi), tol)

    def f_psi(k: Any) -> Any:  # ψ κ_f = ρk(1 − ψ a1) − ψ μ⊥²
        return rho * k * (gpsi + ps * s_pos(k)) - ps * mup2

    def f_phi(k: Any) -> Any:  # κ_s = ρk(1/φ − a1) − μ⊥²
        return rho * k * (gphi + s_pos(k)) - mup2

    if ga > 0:
        def g_res(k: Any) -> Any:
            return f_psi(k) * f_phi(k) - ga * rho * k

        lo = kx0 if kx0 > 0 else s
        while not g_res(lo) < 0:
            lo = kx0 + (lo - kx0) / 2 if kx0 > 0 else lo / 2
            if lo - kx0 < mp.mpf(10) ** (-(dps + 280)):
                raise ArithmeticError("could not bracket the fixed point")  # pragma: no cover
        hi = max(2 * lo, s)
        while g_res(hi) <= 0:
            hi *= 2
        k = _illinois(g_res, lo, hi, g_res(lo), g_res(hi), tol)
        # t/φ = X, t̄ = Y with XY = γ/(ρk) (the fixed point) and Y − ψX = c = 1 − ψ/φ (an identity of
        # the two factors): the positive root of the quadratic, in its cancellation-free form
        P = ga / (rho * k)
        sq = mp.sqrt(cc * cc + 4 * ps * P)
        if cc >= 0:
            X = 2 * P / (cc + sq)
            Y = P / X
        else:
            Y = 2 * ps * P / (sq - cc)
            X = P / Y
        t, tb = ph * X, Y
        fs, ff, sk, ks1 = f_psi(k), f_phi(k), s_pos(k), ks_pos(k)
        # rounding scale of g over k·g'(k) (f' k = f + ρk(ψ)kS' + (ψ)μ⊥²)
        sc_psi = rho * k * (abs(gpsi) + ps * sk) + ps * mup2
        sc_phi = rho * k * (abs(gphi) + sk) + mup2
        scale = sc_psi * abs(ff) + sc_phi * abs(fs) + ga * rho * k
        dfs = fs + ps * (rho * k * ks1 + mup2)
        dff = ff + rho * k * ks1 + mup2
        slope = abs(dfs * ff + fs * dff - ga * rho * k)
    else:
        k = kx0
        if k == 0:
            raise ValueError("κ = ∞ at this point (ridgeless linear model with at least as many samples "
                             "as non-null directions); asymptotics_mp does not evaluate that limit")
        t = mpq(max(Fraction(0), 1 - ph_q / ps_q)) if ps_q > 0 else mp.mpf(0)  # exact, then rounded
        tb = mpq(max(Fraction(0), c_q))
        sk = s_pos(k)
        scale = rho * k * (abs(gq) + sk) + mup2
        slope = abs(rho * k * (gq + sk) + rho * k * ks_pos(k))  # k h'(k)
    err_k = n_terms * mp.mpf(10) ** (-dps) * (scale / slope if slope > 0 else mp.inf)
    kappa = ph / k
    u = [k / (li + k) if li > 0 else mp.mpf(1) for li in lam]
    v = [li / (li + k) if li > 0 else mp.mpf(0) for li in lam]  # 1 − u without cancellation
    i11 = mp.fsum(pi * li * ui for pi, li, ui in zip(p, lam, u, strict=True))
    phi_i12 = mp.fsum(pi * li * ui**2 for pi, li, ui in zip(p, lam, u, strict=True))
    i22 = mp.fsum(pi * li * ui * vi for pi, li, ui, vi in zip(p, lam, u, v, strict=True)) / kappa
    peak = ga == 0 and ps == ph
    D = ph * ga + rho * (t * ps + tb * ph) * (omega + phi_i12)  # THEORY.md §5

    def side(lx: list[Any], rho_x: Any, omega_x: Any, r_x: Any) -> tuple[Any, Any]:
        ix11 = mp.fsum(pi * lj * ui for pi, lj, ui in zip(p, lx, u, strict=True))
        phi_ix12 = mp.fsum(pi * lj * ui**2 for pi, lj, ui in zip(p, lx, u, strict=True))
        ix22 = mp.fsum(pi * lj * ui * vi for pi, lj, ui, vi in zip(p, lx, u, v, strict=True)) / kappa
        bias = mp.fsum(pi * lj * ((1 - r_x) + r_x * ui) ** 2 for pi, lj, ui in zip(p, lx, u, strict=True))
        if peak:
            return bias, mp.inf
        var = mp.fsum(variance_parts(
            rho_x * kappa / D, phi=ph, psi=ps, t=t, t_bar=tb, noise_var=s2, omega=omega, i11=i11,
            phi_i12=phi_i12, i22=i22, omega_x=omega_x, ix11=ix11, phi_ix12=phi_ix12, ix22=ix22))
        return bias, var

    b_o, v_o = side(lam_s, rho_s, omega_s, r)
    b_i, v_i = side(lam, rho, omega, mp.mpf(1))
    # The OOD bias's (1 − r) + r u cancels where μ1(s*) ≈ μ1(s) (e.g. hardtanh at small s, s*: μ1 = 1 − T
    # with T ~ e^{-1/(2v)}), each rounded to 10^-dps relative: its relative error, as for k_x. r is exact
    # where μ1(s*) and μ1(s) are the same number (s* = s, or μ1 constant as for relu).
    if b_o > 0:
        eps = n_terms * mp.mpf(10) ** (-dps)
        r_err = 0 if mu1_s == mu1 else abs(r)
        err_b = mp.fsum(2 * pi * lj * abs((1 - r) + r * ui) * eps * (r_err + abs(1 - r) + abs(r * ui))
                        for pi, lj, ui in zip(p, lam_s, u, strict=True)) / b_o
    else:
        err_b = mp.mpf(0)
    return [b_o + v_o, b_o, v_o, b_i + v_i, b_i, v_i, kappa, k, t, tb], max(err_k, err_b)


def asymptotics_mp(
    spec: Spectrum,
    *,
    phi: object,
    psi: object,
    gamma: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    precision: int = 50,
) -> MPAsymptotics:
    """Re-solve one parameter point in arbitrary precision (``precision`` decimal digits, mpmath).

    Independent of the float64 engine: the fixed point γρk = ψκ_fκ_s (THEORY-derivation.md §3) is
    bracketed on the physical branch (k > k_x0) and solved by Illinois regula falsi to the working
    precision; the errors use THEORY.md §5 in κ = φ/k_x variables with
    t = φκ_s/(ρk), t̄ = ψκ_f/(ρk) (exactly max(0, 1 − φ/ψ) and max(0, 1 − ψ/φ) at γ = 0) and
    D = φγ + ρ(tψ + t̄φ)(ω + φI_{1,2}). Activation constants use closed forms (ReLU, leaky ReLU, abs,
    erf, GELU, ELU, hard tanh, linear, quadratic; sigmoid from tanh) or mpmath quadrature of the residual
    σ − μ0 − μ1 g split at 0, the kinks and the bend scale ±c/√v, with guard digits against the
    cancellation at extreme variances (docs/theory.md §17).
    Float inputs (and the spectrum's atoms) are taken
    at their exact binary value, i.e. the same numbers the float64 engine sees; ints, Fractions and
    strings such as "1/10" are exact.
    ``inf`` at the ridgeless interpolation peak ψ = φ.

    Rank thresholds and tiny ridges (docs/theory.md §17, "The certificate at a rank threshold"): the
    terms that vanish at q = μ(λ > 0) are formed from exact rationals (q − a1(k) = (q − μ(λ>0)) +
    Σ_{λ>0} p k/(λ + k)) and t, t̄ from XY = γ/(ρk), t̄ − ψt/φ = 1 − ψ/φ, so no O(1) numbers cancel
    there. The working precision starts at ``precision`` + 20 digits; the root's relative error from
    rounding is then estimated as (rounding scale of the residual)/|k·residual'(k)|, and the OOD
    bias's from the cancellation in its (1 − r) + r u (r = μ1(s*)/μ1(s), e.g. hardtanh at small s, s*
    where μ1 ≈ 1 − e^{-1/(2v)}); while the larger exceeds 10^-(precision + 3) (e.g. a near-null
    eigenvalue acting as a rank threshold) the working digits are raised to what the estimate asks for,
    up to 4·precision + 20. Given k, t, t̄ the other outputs are sums and products of non-negative
    terms, so they carry the root's relative accuracy.

    Raises
    ------
    ValueError
        Bad parameters; an activation with μ1 = 0 or without an mpmath form; κ = ∞ (ridgeless linear
        model below the rank threshold); or a point needing more than 4·precision + 20 working
        digits: the message names ``precision`` and the value that suffices.

    Examples
    --------
    >>> import rfshift as rf
    >>> from rfshift.symbolic import asymptotics_mp
    >>> res = asymptotics_mp(rf.Spectrum([1], [1]), phi=0.5, psi=0.25, gamma=0.1, noise_var=0.1)
    >>> round(float(res.error), 10)  # THEORY.md §10, R1
    0.3233954427
    """
    import mpmath as mp

    if not isinstance(spec, Spectrum):
        raise TypeError(f"spec must be an rfshift.Spectrum, got {type(spec).__name__}")
    if spec.has_target:
        raise ValueError(
            "asymptotics_mp supports only the isotropic linear target: spec.target_power must be None "
            "or all ones (structured targets, docs/theory.md §19, use rfshift.asymptotics)"
        )
    if not (isinstance(precision, int) and 15 <= precision <= 10000):
        raise ValueError(f"precision must be an integer number of digits in [15, 10000], got {precision!r}")
    act = get_activation(activation)

    def conv(x: object, name: str) -> Fraction:
        """The exact rational value of a scalar input (floats at their exact binary value)."""
        if isinstance(x, bool):
            raise TypeError(f"{name} must be a real number, got a boolean")
        if isinstance(x, Fraction):
            return x
        if isinstance(x, str):
            try:
                return Fraction(x)
            except (ValueError, ZeroDivisionError):
                raise ValueError(f"{name} = {x!r} is not a number") from None
        try:
            xf = float(x)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real scalar, got {x!r}") from None
        if xf != xf or abs(xf) == float("inf"):
            raise ValueError(f"{name} must be finite, got {x!r}")
        return Fraction(int(x)) if isinstance(x, int) else Fraction(xf)  # exact binary value

    ph_q, ps_q = conv(phi, "phi"), conv(psi, "psi")
    ga_q, s2_q = conv(gamma, "gamma"), conv(noise_var, "noise_var")
    if not ph_q > 0:
        raise ValueError(f"phi (n0/m) must be > 0, got {phi!r}")
    for val, name in ((ps_q, "psi"), (ga_q, "gamma"), (s2_q, "noise_var")):
        if val < 0:
            raise ValueError(f"{name} must be >= 0, got {float(val)!r}")
    # The terms that vanish at a rank threshold, in exact rationals (docs/theory.md §17,
    # "the certificate at a rank threshold"): with S(k) = Σ_{λ>0} p k/(λ + k) (no cancellation),
    #   q − a1(k) = G_q + S,  1/φ − a1(k) = G_φ + S,  1 − ψ a1(k) = G_ψ + ψ S,
    # and t̄ − ψ t/φ = c = 1 − ψ/φ exactly, so nothing is formed as a difference of rounded O(1) numbers.
    w_q = [Fraction(float(x)) for x in spec.weights]
    pos_q = sum((wi for wi, li in zip(w_q, spec.lam, strict=True) if float(li) > 0), Fraction(0)) / sum(w_q)
    g_q = 1 / max(ph_q, ps_q) - pos_q
    g_phi, g_psi, c_q = 1 / ph_q - pos_q, 1 - ps_q * pos_q, 1 - ps_q / ph_q
    n_terms = len(w_q) + 4

    def attempt(dps: int) -> tuple[list[Any], Any]:
        """The point at ``dps`` working digits: (outputs, estimated relative rounding error)."""
        with mp.workdps(dps):
            return _mp_point(act, spec, ph_q, ps_q, ga_q, s2_q, w_q, g_q, g_phi, g_psi, c_q, dps, n_terms)

    # Working digits: precision + 20, raised while the estimated relative error from rounding (of
    # the root: the residual's over its slope; of the OOD bias) exceeds 10^-(precision + 3); at most
    # 4·precision + 20 digits.
    dps, cap = precision + 20, 4 * precision + 20
    while True:
        out, err = attempt(dps)
        with mp.workdps(30):
            if err <= mp.mpf(10) ** (-(precision + 3)):
                break
            need = dps + int(mp.ceil(mp.log10(err))) + precision + 3 + 10
        if dps >= cap:
            raise ValueError(
                f"precision={precision}: the fixed point at phi={phi!r}, psi={psi!r}, gamma={gamma!r} is "
                f"so ill-conditioned (near a rank threshold with a tiny mu_perp2 or a near-null "
                f"eigenvalue) that {precision} digits need about {need} working digits, more than "
                f"4*precision + 20 = {cap}; pass precision={-(-(need - precision - 20) // 3)} or more")
        dps = min(max(need, dps + 10), cap)
    with mp.workdps(precision):
        out = [+x for x in out]
    return MPAsymptotics(*out, precision=precision)
