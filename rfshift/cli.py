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
    spec = (
        load_spectrum(args.spectrum_file)
        if args.spectrum_file
        else make_shift(args.shift or "swap", **_parse_params(args.param))
    )
    if args.target is not None:
        spec = make_target(spec, args.target, **_parse_params(args.target_param, "--target-param"))
    elif args.target_param:
        raise ValueError("--target-param needs --target")
    if args.num < 1:
        raise ValueError(f"--num must be >= 1, got {args.num}")
    lo, hi = args.start, args.stop
    if args.log:
        if lo <= 0 or hi <= 0:
            raise ValueError("--log needs positive --start and --stop")
        values = np.geomspace(lo, hi, args.num)
    else:
        values = np.linspace(lo, hi, args.num)
    params = {"phi": args.phi, "psi": args.psi, "gamma": args.gamma}
    params[args.sweep] = values
    quantities = _parse_quantities(args.quantities) if args.quantities else []
    ks = _parse_ks(args.ensemble_k)
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
        json.dump({"spectrum": repr(spec), "activation": res.activation.name, "rows": clean},
                  sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    elif args.format == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
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
    res = finite_size(S, S_star, m=args.m, n1=args.n1, gamma=args.gamma, noise_var=args.noise_var,
                      activation=args.activation, draws=args.draws, seed=args.seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lim = asymptotics(Spectrum.from_covariances(S, S_star), phi=res.phi, psi=res.psi,
                          gamma=args.gamma, noise_var=args.noise_var, activation=args.activation)
    fields = ("error", "bias", "variance", "error_id", "bias_id", "variance_id")
    if args.format == "json":
        def num(v: object) -> float | None:  # JSON has no infinity: inf (interpolation threshold) -> null
            x = float(v)  # type: ignore[arg-type]
            return x if np.isfinite(x) else None

        out = {"n0": res.n0, "m": res.m, "n1": res.n1, "draws": res.draws, "activation": res.activation,
               "finite_size": {f: num(getattr(res, f)) for f in fields}
               | {f + "_se": num(getattr(res, f + "_se")) for f in fields},
               "limit": {f: num(getattr(lim, f)) for f in fields},
               "concentration_warning": [str(w.message) for w in caught]}
        json.dump(out, sys.stdout, indent=2, allow_nan=False, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(f"n0={res.n0} m={res.m} n1={res.n1} activation={res.activation} draws={res.draws}")
        print(f"{'':>12} {'finite-size':>12} {'s.e.':>10} {'limit':>12}")
        for f in fields:
            print(f"{f:>12} {getattr(res, f):>12.6g} {getattr(res, f + '_se'):>10.2g} "
                  f"{float(getattr(lim, f)):>12.6g}")
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rfshift",
        description="Exact asymptotics of random-feature ridge regression under covariate shift.",
    )
    p.add_argument("--version", action="version", version=f"rfshift {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("curve", help="sweep phi, psi or gamma and print error/bias/variance")
    c.add_argument("--sweep", choices=["phi", "psi", "gamma"], default="psi")
    c.add_argument("--start", type=float, default=0.05)
    c.add_argument("--stop", type=float, default=2.0)
    c.add_argument("--num", type=int, default=20)
    c.add_argument("--log", action="store_true", help="log-spaced sweep values")
    c.add_argument("--phi", type=float, default=0.5, help="n0/m (default 0.5)")
    c.add_argument("--psi", type=float, default=0.25, help="n0/n1 (default 0.25)")
    c.add_argument("--gamma", type=float, default=1e-2, help="ridge (default 0.01)")
    c.add_argument("--noise-var", type=float, default=0.1, dest="noise_var")
    c.add_argument("--activation", default="relu", help=f"one of {', '.join(available_activations())}")
    c.add_argument("--shift", default=None, choices=sorted(FAMILIES),
                   help="named shift family (default swap)")
    c.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="shift-family parameter, repeatable")
    c.add_argument("--spectrum-file", help="CSV (lam,lam_star[,weights]) or .npz/.npy covariances")
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
                   help="single-index teacher y = f*(βᵀx/√n0) + ε, an activation name (zero-mean)")
    c.add_argument("--format", choices=["table", "csv", "json"], default="table")
    c.add_argument("--quantities", default="", metavar="LIST",
                   help="extra columns, comma-separated: " + ", ".join(_QUANTITIES)
                   + " (disagreement: three pairings, OOD and ID; ensemble: error of K-model "
                   "ensembles, see --ensemble-k; training_error: training error and the GCV limit)")
    c.add_argument("--ensemble-k", default="2,inf", dest="ensemble_k", metavar="LIST",
                   help="ensemble sizes for --quantities ensemble, integers >= 1 or inf (default 2,inf)")
    c.set_defaults(func=_cmd_curve)

    i = sub.add_parser("info", help="Gaussian-equivalence constants of an activation")
    i.add_argument("activation")
    i.add_argument("--v", type=float, nargs="+", default=[1.0], help="pre-activation variances")
    i.set_defaults(func=_cmd_info)

    v = sub.add_parser("validate", help="Monte Carlo vs theory on a documented suite (needs JAX)")
    v.add_argument("--n0", type=int, default=None)
    v.add_argument("--trials", type=int, default=None)
    v.add_argument("--quick", action="store_true")
    v.add_argument("--seed", type=int, default=0)
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
    f.add_argument("--noise-var", type=float, default=0.1, dest="noise_var")
    f.add_argument("--activation", default="relu", help=f"one of {', '.join(available_activations())}")
    f.add_argument("--draws", type=int, default=8, help="W draws (>= 3, default 8)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--format", choices=["table", "json"], default="table")
    f.set_defaults(func=_cmd_finite)

    a = sub.add_parser("app", help="start the Streamlit app")
    a.add_argument("--port", type=int, default=8501)
    a.add_argument("--headless", action="store_true")
    a.set_defaults(func=_cmd_app)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError, ConvergenceError) as exc:
        print(f"rfshift {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
