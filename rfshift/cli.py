"""Command line: ``rfshift curve | info | validate | finite | app`` (also ``python -m rfshift``)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence

import numpy as np

from . import __version__
from ._errors import ConvergenceError
from .activations import available_activations, get_activation
from .engine import asymptotics
from .io import load_spectrum
from .shifts import FAMILIES, TARGETS, make_shift, make_target

__all__ = ["build_parser", "main"]

_FIELDS = ("error", "bias", "variance", "error_id", "bias_id", "variance_id", "kappa")
#: Optional column groups of ``curve --quantities`` (docs/theory.md §18).
_QUANTITIES = ("disagreement", "ensemble", "training_error")
#: Largest ``curve --num``: the engine holds a few (num × atoms) arrays, and a plotted curve needs far fewer.
MAX_NUM = 100_000
#: Largest num × (atoms of the spectrum): the engine needs about 0.3 kB per cell (650 MB at this cap).
MAX_CELLS = 2_000_000
#: Fixed values of ``curve`` when not swept (the sweep overwrites the swept one, so giving it is refused).
_CURVE_DEFAULTS = {"phi": 0.5, "psi": 0.25, "gamma": 1e-2}
#: Default training label-noise variance of ``curve`` and ``finite`` (the API's noise_var defaults to 0).
NOISE_VAR_DEFAULT = 0.1
#: Activations with μ1 ≡ 0 (even σ): the features carry no linear signal and the proportional limit
#: refuses them (docs/theory.md); ``finite`` still computes their finite-size error.
_NO_LINEAR = ("abs", "quadratic")
#: Zero-mean built-in activations, the teachers the theory accepts. Both tuples are spelled out (no
#: constants evaluated at start-up); tests/test_cli_inputs.py checks them against
#: ``rfshift.activations._with_linear_part`` / ``_zero_mean``, the criteria the app's pickers use.
_TEACHERS = ("erf", "hardtanh", "linear", "tanh")


def _usable_activations() -> str:
    return ", ".join(a for a in available_activations() if a not in _NO_LINEAR)


def _parse_quantities(text: str) -> list[str]:
    items = [q.strip() for q in text.split(",") if q.strip()]
    bad = [q for q in items if q not in _QUANTITIES]
    if bad:
        raise ValueError(f"--quantities: unknown {', '.join(map(repr, bad))}; "
                         f"choose from {', '.join(_QUANTITIES)} (comma-separated)")
    return items


def _parse_ks(text: str) -> list[float]:
    out = []
    for item in text.split(","):
        item = item.strip()
        if item.lower() in ("inf", "infinity"):
            out.append(float("inf"))
            continue
        try:
            k = int(item)
        except ValueError:
            raise ValueError(f"--ensemble-k: {item!r} is not an integer >= 1 or 'inf'") from None
        if k < 1:
            raise ValueError(f"--ensemble-k: {k} is not an integer >= 1 or 'inf'")
        out.append(float(k))
    return out


def _extra_columns(res, quantities: Sequence[str], ks: Sequence[float]) -> dict[str, np.ndarray]:
    """Columns for ``--quantities``: disagreements (three pairings, OOD and ID), K-ensemble errors,
    training error and the GCV limit."""
    cols: dict[str, np.ndarray] = {}
    if "disagreement" in quantities:
        for sfx, d in (("", res.disagreement), ("_id", res.disagreement_id)):
            for name in ("shared_data", "shared_features", "independent"):
                cols[f"disagreement_{name}{sfx}"] = getattr(d, name)
    if "ensemble" in quantities:
        for k in ks:
            ens = res.ensemble(k)
            tag = "inf" if np.isinf(k) else str(int(k))
            cols[f"ensemble_k{tag}_error"] = ens.error
            cols[f"ensemble_k{tag}_error_id"] = ens.error_id
    if "training_error" in quantities:
        cols["training_error"] = res.training_error
        cols["gcv"] = res.gcv
    return cols


def _parse_params(items: Sequence[str], flag: str = "--param") -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep:
            raise ValueError(f"{flag} expects NAME=VALUE, got {item!r}")
        if key.strip() in out:
            raise ValueError(f"{flag} {key.strip()} is given twice; give each parameter once")
        try:
            out[key.strip()] = float(val)
        except ValueError:
            raise ValueError(f"{flag} {key}: {val!r} is not a number") from None
    return out


def _cmd_curve(args: argparse.Namespace) -> int:
    if args.spectrum_file and (args.shift is not None or args.param):
        # never ignore an input silently: a file defines the whole spectrum
        raise ValueError("--spectrum-file defines the spectrum; drop --shift/--param (they would be ignored)")
    if getattr(args, args.sweep) is not None:
        raise ValueError(f"--{args.sweep} is the swept parameter (--sweep {args.sweep}); its values come "
                         f"from --start/--stop/--num, so drop --{args.sweep}")
    if args.ensemble_k is not None and "ensemble" not in _parse_quantities(args.quantities):
        raise ValueError("--ensemble-k needs --quantities ensemble (it would be ignored)")
    if not 1 <= args.num <= MAX_NUM:
        raise ValueError(f"--num must be in [1, {MAX_NUM}], got {args.num}")
    spec = (
        load_spectrum(args.spectrum_file)
        if args.spectrum_file
        else make_shift(args.shift or "swap", **_parse_params(args.param))
    )
    if args.num * spec.lam.size > MAX_CELLS:
        raise ValueError(f"--num {args.num} with {spec.lam.size} spectrum atoms needs num × atoms <= "
                         f"{MAX_CELLS:,} (memory); use --num <= {max(1, MAX_CELLS // spec.lam.size)}")
    if args.target is not None and spec.target_power is not None:
        raise ValueError(f"--spectrum-file {args.spectrum_file} has a target_power column; --target "
                         f"{args.target} would replace it: drop --target, or drop the column")
    if args.target is not None:
        spec = make_target(spec, args.target, **_parse_params(args.target_param, "--target-param"))
    elif args.target_param:
        raise ValueError("--target-param needs --target")
    lo, hi = args.start, args.stop
    if args.log:
        if lo <= 0 or hi <= 0:
            raise ValueError("--log needs positive --start and --stop")
        values = np.geomspace(lo, hi, args.num)
    else:
        values = np.linspace(lo, hi, args.num)
    fixed = {k: (v if getattr(args, k) is None else getattr(args, k)) for k, v in _CURVE_DEFAULTS.items()
             if k != args.sweep}
    params = {**fixed, args.sweep: values}
    quantities = _parse_quantities(args.quantities) if args.quantities else []
    ks = _parse_ks(args.ensemble_k or "2,inf")
    res = asymptotics(spec, **params, noise_var=args.noise_var, activation=args.activation,
                      nonlinear_var=args.nonlinear_var, nonlinear_var_test=args.nonlinear_var_test,
                      teacher=args.teacher)
    extra = _extra_columns(res, quantities, ks)
    rows = []
    for i, x in enumerate(values):
        row = {args.sweep: float(x)}
        row.update({f: float(np.ravel(getattr(res, f))[i]) for f in _FIELDS})
        row.update({name: float(np.ravel(col)[i]) for name, col in extra.items()})
        rows.append(row)
    if args.format == "json":
        # JSON has no infinity: values at the ridgeless interpolation peak are written as null,
        # and each row says whether it is at the peak.
        peak = np.ravel(res.interpolation_peak)
        clean = [
            {k: (v if np.isfinite(v) else None) for k, v in row.items()} | {"interpolation_peak": bool(p)}
            for row, p in zip(rows, peak, strict=True)
        ]
        doc = {"spectrum": repr(spec),
               "spectrum_source": args.spectrum_file or f"--shift {args.shift or 'swap'}",
               "activation": res.activation.name, "sweep": args.sweep, **fixed,
               "noise_var": args.noise_var, "target": args.target,
               "target_params": _parse_params(args.target_param, "--target-param"),
               "teacher": args.teacher, "nonlinear_var": args.nonlinear_var,
               "nonlinear_var_test": args.nonlinear_var_test, "rows": clean}
        json.dump(doc, sys.stdout, indent=2, allow_nan=False, ensure_ascii=False)
        sys.stdout.write("\n")
    elif args.format == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    else:
        cols = list(rows[0])
        print("  ".join(f"{c:>12}" for c in cols))
        for row in rows:
            print("  ".join(f"{row[c]:>12.6g}" for c in cols))
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    act = get_activation(args.activation)
    consts = [act.constants(v) for v in args.v]  # validates every v before printing anything
    print(f"activation: {act.name}")
    print(f"{'v':>10} {'mu0':>20} {'mu1':>20} {'mu_perp2':>20}")
    for v, c in zip(args.v, consts, strict=True):
        print(f"{v:>10.6g} {c.mu0:>20.15g} {c.mu1:>20.15g} {c.mu_perp2:>20.15g}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    try:
        from .montecarlo.validate import main as validate_main
    except ImportError as exc:
        print(f"rfshift validate needs JAX: pip install 'rfshift[mc]' ({exc})", file=sys.stderr)
        return 2
    return int(validate_main(args))


def _port(text: str) -> int:
    """argparse type of ``app --port``: an integer TCP port."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: an integer 1..65535") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {port}: must be 1..65535")
    return port


def _cmd_app(args: argparse.Namespace) -> int:
    import importlib.util
    import os
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "app" / "streamlit_app.py"
    if not script.is_file():
        print(f"app not found at {script} (run from a source checkout)", file=sys.stderr)
        return 2
    if importlib.util.find_spec("streamlit") is None:
        print("rfshift app needs Streamlit: pip install 'rfshift[app]'", file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(args.port),
           "--browser.gatherUsageStats", "false"]
    if args.headless:
        cmd += ["--server.headless", "true"]
    os.execv(sys.executable, cmd)  # replace this process: signals reach Streamlit directly


def _cmd_finite(args: argparse.Namespace) -> int:
    """Finite-size mode on a covariance pair from .npy files, next to the proportional limit."""
    import warnings

    from .finite_size import finite_size
    from .io import MAX_DIM, _load_npy, _read
    from .spectra import Spectrum

    S = _load_npy(_read(args.sigma, "--sigma")[0], "--sigma")
    S_star = S if args.sigma_star is None else _load_npy(_read(args.sigma_star, "--sigma-star")[0],
                                                         "--sigma-star")
    if S.ndim != 2 or S.shape[0] > MAX_DIM:
        raise ValueError(f"--sigma must be an n0 × n0 matrix with n0 <= {MAX_DIM}, got shape {S.shape}")
    B = None if args.target_cov is None else _load_npy(_read(args.target_cov, "--target-cov")[0],
                                                       "--target-cov")
    target = {"nonlinear_var": args.nonlinear_var, "nonlinear_var_test": args.nonlinear_var_test,
              "teacher": args.teacher}
    try:
        res = finite_size(S, S_star, m=args.m, n1=args.n1, gamma=args.gamma, noise_var=args.noise_var,
                          activation=args.activation, draws=args.draws, seed=args.seed, target_cov=B,
                          backend=args.backend, equivalent=args.equivalent,
                          pool=args.pool, **target)
    except ImportError as exc:  # --backend jax without JAX
        print(f"rfshift finite: error: {exc}", file=sys.stderr)
        return 2
    lim, no_limit = None, ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            B2 = B if B is None or B.ndim != 1 else np.diag(B)
            lim = asymptotics(Spectrum.from_covariances(S, S_star, target_cov=B2), phi=res.phi, psi=res.psi,
                              gamma=args.gamma, noise_var=args.noise_var, activation=args.activation,
                              **target)
        except ValueError as exc:  # e.g. μ1 = 0 (abs, quadratic), a B that does not commute with Σ:
            no_limit = str(exc)  # the finite-size error still stands
    # the concentration warning advises rfshift.finite_size(...), which is what this command ran
    notes = [str(w.message).split("; use rfshift.finite_size")[0] + "; the finite-size column is the "
             "answer at these sizes" if "rfshift.finite_size" in str(w.message) else str(w.message)
             for w in caught] if lim is not None else []
    split = ("variance_w", "variance_noise", "variance_sampling")
    fields = ("error", "bias", "variance", *split, "error_id", "bias_id", "variance_id",
              *(f + "_id" for f in split))
    limit = None if lim is None else {f: float(getattr(lim, f)) for f in fields if hasattr(lim, f)}
    if lim is not None:  # the engine's ANOVA terms that are the same quantities (docs/theory.md §20.1)
        for sfx, tm in (("", lim.variance_terms), ("_id", lim.variance_terms_id)):
            limit |= {"variance_w" + sfx: float(tm.w), "variance_noise" + sfx: float(tm.x_eps + tm.wx_eps),
                      "variance_sampling" + sfx: float(tm.x + tm.wx)}
    if args.format == "json":
        def num(v: object) -> float | None:  # JSON has no infinity: inf (interpolation threshold) -> null
            x = float(v)  # type: ignore[arg-type]
            return x if np.isfinite(x) else None

        out = {"n0": res.n0, "m": res.m, "n1": res.n1, "draws": res.draws, "seed": res.seed,
               "gamma": res.gamma, "noise_var": res.noise_var, "activation": res.activation,
               "nonlinear_var": res.nonlinear_var, "nonlinear_var_test": res.nonlinear_var_test,
               "teacher": res.teacher, "target_cov": args.target_cov, "backend": res.backend,
               "equivalent": res.equivalent,
               "interpolation_peak": res.interpolation_peak,
               "finite_size": {f: num(getattr(res, f)) for f in fields}
               | {f + "_se": num(getattr(res, f + "_se")) for f in fields},
               "limit": None if limit is None else {f: num(v) for f, v in limit.items()},
               "limit_unavailable": no_limit or None,
               "concentration_warning": notes}
        json.dump(out, sys.stdout, indent=2, allow_nan=False, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        plain = not (args.teacher or args.nonlinear_var or args.nonlinear_var_test or B is not None)
        tgt = "" if plain else (f" teacher={res.teacher} nonlinear_var={res.nonlinear_var:g} "
                                f"nonlinear_var_test={res.nonlinear_var_test:g} target_cov={args.target_cov}")
        pool = args.pool or finite_size.DEFAULT_POOL
        eq = "" if res.equivalent == "gaussian" else f" equivalent={res.equivalent} pool={pool}"
        eq += "" if res.backend == "numpy" else f" backend={res.backend}"
        print(f"n0={res.n0} m={res.m} n1={res.n1} gamma={res.gamma:g} noise_var={res.noise_var:g} "
              f"activation={res.activation} draws={res.draws} seed={res.seed}{tgt}{eq}")
        print(f"{'':>20} {'finite-size':>12} {'s.e.':>10} {'limit':>12}")
        for f in fields:
            lv = "n/a" if limit is None else f"{limit[f]:.6g}"
            print(f"{f:>20} {getattr(res, f):>12.6g} {getattr(res, f + '_se'):>10.2g} {lv:>12}")
        if res.interpolation_peak:
            print("interpolation peak: ridgeless with rank(Φ) = m, the variance diverges (inf)")
        if no_limit:
            print(f"note: no proportional limit: {no_limit}", file=sys.stderr)
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rfshift",
        description="Exact asymptotics of random-feature ridge regression under covariate shift.",
    )
    p.add_argument("--version", action="version", version=f"rfshift {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("curve", help="sweep phi, psi or gamma and print error/bias/variance")
    c.add_argument("--sweep", choices=["phi", "psi", "gamma"], default="psi",
                   help="the swept parameter (default psi); the other two are fixed by --phi/--psi/--gamma")
    c.add_argument("--start", type=float, default=0.05,
                   help="first value of the swept parameter (default 0.05)")
    c.add_argument("--stop", type=float, default=2.0, help="last value of the swept parameter (default 2)")
    c.add_argument("--num", type=int, default=20,
                   help=f"number of points, 1..{MAX_NUM:,} and num × spectrum atoms <= {MAX_CELLS:,} "
                   "(default 20)")
    c.add_argument("--log", action="store_true", help="log-spaced sweep values")
    fixed = "; refused when it is the --sweep parameter"
    c.add_argument("--phi", type=float, default=None, help="n0/m (default 0.5" + fixed + ")")
    c.add_argument("--psi", type=float, default=None, help="n0/n1 (default 0.25" + fixed + ")")
    c.add_argument("--gamma", type=float, default=None, help="ridge (default 0.01" + fixed + ")")
    c.add_argument("--noise-var", type=float, default=NOISE_VAR_DEFAULT, dest="noise_var",
                   help=f"training label-noise variance (default {NOISE_VAR_DEFAULT:g}; the Python API's "
                   "noise_var defaults to 0)")
    c.add_argument("--activation", default="relu",
                   help=f"one of {_usable_activations()} (not {', '.join(_NO_LINEAR)}: μ1 = 0, "
                   "no proportional limit)")
    c.add_argument("--shift", default=None, choices=sorted(FAMILIES),
                   help="named shift family (default swap)")
    c.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="shift-family parameter, repeatable")
    c.add_argument("--spectrum-file", help="CSV (lam,lam_star[,weights][,target_power]) or .npz/.npy "
                   "covariances (a file with target_power cannot be combined with --target)")
    c.add_argument("--target", choices=sorted(TARGETS), default=None,
                   help="target family put on the spectrum's atoms (default: the spectrum's own "
                        "target power, isotropic if none)")
    c.add_argument("--target-param", action="append", default=[], metavar="NAME=VALUE",
                   dest="target_param", help="target-family parameter, repeatable (e.g. alpha=1)")
    c.add_argument("--nonlinear-var", type=float, default=0.0, dest="nonlinear_var",
                   help="variance of the target's nonlinear part under the training law (default 0)")
    c.add_argument("--nonlinear-var-test", type=float, default=None, dest="nonlinear_var_test",
                   help="the same under the test law (default: --nonlinear-var)")
    c.add_argument("--teacher", default=None,
                   help="single-index teacher y = f*(βᵀx/√n0) + ε, a zero-mean activation: "
                   + ", ".join(_TEACHERS))
    c.add_argument("--format", choices=["table", "csv", "json"], default="table",
                   help="output: an aligned table (default), CSV or JSON (non-finite values as null)")
    c.add_argument("--quantities", default="", metavar="LIST",
                   help="extra columns, comma-separated: " + ", ".join(_QUANTITIES)
                   + " (disagreement: three pairings, OOD and ID; ensemble: error of K-model "
                   "ensembles, see --ensemble-k; training_error: training error and the GCV limit)")
    c.add_argument("--ensemble-k", default=None, dest="ensemble_k", metavar="LIST",
                   help="ensemble sizes for --quantities ensemble (refused without it), integers >= 1 "
                   "or inf (default 2,inf)")
    c.set_defaults(func=_cmd_curve)

    i = sub.add_parser("info", help="Gaussian-equivalence constants of an activation")
    i.add_argument("activation", help=f"one of {', '.join(available_activations())}")
    i.add_argument("--v", type=float, nargs="+", default=[1.0], help="pre-activation variances (default 1)")
    i.set_defaults(func=_cmd_info)

    v = sub.add_parser("validate", help="Monte Carlo vs theory on a documented suite (needs JAX)")
    v.add_argument("--n0", type=int, default=None, help="input dimension (default 256, --quick 128)")
    v.add_argument("--trials", type=int, default=None, help="Monte Carlo trials (default 32, --quick 12)")
    v.add_argument("--quick", action="store_true", help="smaller sizes and fewer trials (about a minute)")
    v.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo draws (default 0)")
    v.add_argument("--fine", action="store_true", help="also check the fine-grained variance terms")
    v.add_argument("--case", action="append", default=None, metavar="NAME",
                   help="run only this case (repeatable; names in rfshift/montecarlo/validate.py)")
    v.set_defaults(func=_cmd_validate)

    f = sub.add_parser("finite",
                       help="error at finite sizes (n0, m, n1) for a covariance pair, next to the limit")
    f.add_argument("--sigma", required=True, help="training covariance Σ, an n0 × n0 .npy file")
    f.add_argument("--sigma-star", dest="sigma_star", default=None,
                   help="test covariance Σ*, .npy (default: Σ, no shift)")
    f.add_argument("--m", type=int, required=True, help="number of training samples")
    f.add_argument("--n1", type=int, required=True, help="number of random features")
    f.add_argument("--gamma", type=float, default=1e-2, help="ridge (default 0.01)")
    f.add_argument("--noise-var", type=float, default=NOISE_VAR_DEFAULT, dest="noise_var",
                   help=f"training label-noise variance (default {NOISE_VAR_DEFAULT:g}; the Python API's "
                   "noise_var defaults to 0)")
    f.add_argument("--activation", default="relu",
                   help=f"one of {', '.join(available_activations())} (for {', '.join(_NO_LINEAR)}, "
                   "μ1 = 0: no limit column)")
    f.add_argument("--target-cov", dest="target_cov", default=None,
                   help="covariance B of β (target βᵀx/√n0, β ~ N(0, B)): an n0 × n0 .npy file or a "
                   "length-n0 vector (its diagonal); default I")
    f.add_argument("--nonlinear-var", type=float, default=0.0, dest="nonlinear_var",
                   help="variance of the target's nonlinear part under the training law, taken "
                   "uncorrelated with the features (default 0)")
    f.add_argument("--nonlinear-var-test", type=float, default=None, dest="nonlinear_var_test",
                   help="the same under the test law (default: --nonlinear-var)")
    f.add_argument("--teacher", default=None,
                   help="single-index teacher y = f*(βᵀx/√n0) + ε, a zero-mean activation: "
                   + ", ".join(_TEACHERS) + "; β is sampled, two per W draw")
    f.add_argument("--equivalent", choices=["gaussian", "generalized"], default="gaussian",
                   help="deterministic equivalent given W: the Gaussian covariate model (default) or the "
                   "generalized one that keeps the x-dependence of the quadratic forms (docs/theory.md "
                   "§20.2; every target option, 20-80x slower per draw)")
    f.add_argument("--pool", type=int, default=None,
                   help="inputs per W draw for --equivalent generalized (>= 1000, default 8000); "
                   "refused without it")
    f.add_argument("--draws", type=int, default=8, help="W draws (3..10000, default 8)")
    f.add_argument("--backend", choices=["numpy", "jax"], default="numpy",
                   help="array backend of each draw's linear algebra: numpy (default) or jax (float64, "
                   "the GPU when present; needs the mc extra)")
    f.add_argument("--seed", type=int, default=0, help="seed of the W draws (default 0)")
    f.add_argument("--format", choices=["table", "json"], default="table",
                   help="output: an aligned table (default) or JSON (non-finite values as null)")
    f.set_defaults(func=_cmd_finite)

    a = sub.add_parser("app", help="start the Streamlit app")
    a.add_argument("--port", type=_port, default=8501, help="TCP port, 1..65535 (default 8501)")
    a.add_argument("--headless", action="store_true", help="do not open a browser")
    a.set_defaults(func=_cmd_app)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError, ConvergenceError) as exc:
        msg = str(exc).replace(" or pass rfshift.Activation(callable, name=...)", "")  # API-only advice
        print(f"rfshift {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
