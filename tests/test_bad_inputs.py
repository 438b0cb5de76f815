"""Catalogue of bad inputs: every one must raise a clear error naming the problem, never return a number.

Three surfaces: the Python API (``rf.asymptotics``, ``rf.Spectrum`` and its constructors,
``rf.Activation``, shift families), the CLI (``rfshift.cli.main`` in-process: exit code 2, a one-line
message on stderr that names the problem, no traceback) and the upload loader
``rfshift.io.load_spectrum`` (which must raise ``SpectrumFileError``, a ``ValueError``).

One parametrised row per bad input; each row gives the exception type and a regex that must match
the message (it names the argument or the file problem).
"""

from __future__ import annotations

import io
import math
import pickle
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import rfshift as rf
import rfshift.io as rio
from rfshift import cli
from rfshift.io import SpectrumFileError, load_covariance_pair, load_spectrum
from rfshift.shifts import make_shift, power_law, rotation, swap, tilt

SPEC = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
GOOD = {"phi": 0.5, "psi": 0.25, "gamma": 0.01, "noise_var": 0.1}


def _asym(**over: object) -> Callable[[], object]:
    kw = {**GOOD, **over}
    spec = kw.pop("spec", SPEC)
    return lambda: rf.asymptotics(spec, **kw)


def _act(fn: Callable, name: str, breakpoints: tuple[float, ...] = ()) -> Callable[[], object]:
    return lambda: rf.asymptotics(SPEC, **GOOD, activation=rf.Activation(fn, name, breakpoints))


def _nan_act(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0.5, np.nan, x)


def _nan_tail_act(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) > 7.0, np.nan, np.tanh(x))  # NaN only beyond the probe grid


# --- API -----------------------------------------------------------------------------------------
API_CASES = [
    # (id, thunk, exception type, regex naming the problem)
    ("phi-negative", _asym(phi=-0.5), ValueError, r"phi.*> 0.*-0\.5"),
    ("phi-zero", _asym(phi=0.0), ValueError, r"phi.*> 0"),
    ("phi-nan", _asym(phi=float("nan")), ValueError, r"phi.*NaN"),
    ("phi-inf", _asym(phi=np.inf), ValueError, r"phi.*finite"),
    ("phi-nan-in-array", _asym(phi=[0.5, np.nan]), ValueError, r"phi.*NaN"),
    ("psi-negative", _asym(psi=-1.0), ValueError, r"psi.*>= 0"),
    ("psi-nan", _asym(psi=float("nan")), ValueError, r"psi.*NaN"),
    ("gamma-negative", _asym(gamma=-1e-3), ValueError, r"gamma.*>= 0"),
    ("gamma-inf", _asym(gamma=np.inf), ValueError, r"gamma.*finite"),
    ("noise-negative", _asym(noise_var=-0.1), ValueError, r"noise_var.*>= 0"),
    ("noise-nan", _asym(noise_var=float("nan")), ValueError, r"noise_var.*NaN"),
    ("phi-string", _asym(phi="0.5"), TypeError, r"phi.*real"),
    ("phi-complex", _asym(phi=0.5 + 1j), TypeError, r"phi.*complex"),
    ("phi-bool", _asym(phi=True), TypeError, r"phi.*boolean"),
    ("psi-bool-array", _asym(psi=np.array([True, False])), TypeError, r"psi.*boolean"),
    ("gamma-none", _asym(gamma=None), TypeError, r"gamma.*None"),
    ("gamma-object-array", _asym(gamma=np.array(["a", 1], dtype=object)), TypeError, r"gamma.*dtype"),
    ("phi-empty", _asym(phi=[]), ValueError, r"phi.*empty"),
    ("shapes-not-broadcast", _asym(phi=[0.5, 0.6], psi=[0.1, 0.2, 0.3]), ValueError, r"broadcast"),
    ("spec-not-spectrum", _asym(spec=[1.0, 2.0]), TypeError, r"spec must be an rfshift\.Spectrum"),
    ("activation-unknown", lambda: rf.asymptotics(SPEC, **GOOD, activation="relux"), ValueError,
     r"unknown activation 'relux'"),
    ("activation-wrong-type", lambda: rf.asymptotics(SPEC, **GOOD, activation=3), TypeError,
     r"activation must be a name"),
    ("activation-returns-nan", _act(_nan_act, "nanny"), ValueError, r"'nanny'.*NaN"),
    ("activation-nan-in-tail", _act(_nan_tail_act, "nantail"), ValueError,
     r"'nantail'.*(not finite|NaN)"),
    ("activation-infinite-second-moment", _act(lambda x: np.exp(x**2), "expsq"), ValueError,
     r"'expsq'.*(not finite|infinite|could not be integrated)"),
    ("activation-quadratic-mu1-zero", lambda: rf.asymptotics(SPEC, **GOOD, activation="quadratic"),
     ValueError, r"mu1.*linear signal"),
    ("activation-abs-mu1-zero", lambda: rf.asymptotics(SPEC, **GOOD, activation="abs"), ValueError,
     r"'abs'.*mu1"),
    ("activation-even-custom-mu1-zero", _act(np.cos, "cosine"), ValueError, r"'cosine'.*mu1"),
    ("activation-wrong-shape", _act(lambda x: np.sum(x), "summer"), ValueError,
     r"'summer'.*same shape"),
    ("activation-fn-not-callable", lambda: rf.Activation(3.0, "three"), TypeError, r"callable"),
    ("activation-breakpoint-inf", lambda: rf.Activation(np.tanh, "t", (np.inf,)), ValueError,
     r"breakpoints must be finite"),
    ("activation-constants-negative-v", lambda: rf.activation_constants("tanh", -1.0), ValueError,
     r"variance v.*> 0"),
    ("activation-constants-nan-v", lambda: rf.activation_constants("relu", float("nan")), ValueError,
     r"variance v.*finite"),
    # Spectrum
    ("lam-negative", lambda: rf.Spectrum([1.0, -0.5], [1.0, 1.0]), ValueError, r"lam\[1\].*-0\.5"),
    ("lam_star-negative", lambda: rf.Spectrum([1.0, 0.5], [1.0, -2.0]), ValueError,
     r"lam_star.*>= 0"),
    ("lam-nan", lambda: rf.Spectrum([1.0, np.nan], [1.0, 1.0]), ValueError, r"lam contains NaN"),
    ("lam_star-inf", lambda: rf.Spectrum([1.0, 1.0], [np.inf, 1.0]), ValueError,
     r"lam_star contains inf"),
    ("lengths-mismatch", lambda: rf.Spectrum([1.0, 2.0], [1.0]), ValueError,
     r"lam and lam_star must have the same length.*2 and 1"),
    ("weights-negative", lambda: rf.Spectrum([1.0, 2.0], [1.0, 1.0], [0.5, -0.5]), ValueError,
     r"weights.*>= 0"),
    ("weights-sum-zero", lambda: rf.Spectrum([1.0, 2.0], [1.0, 1.0], [0.0, 0.0]), ValueError,
     r"weights sum to zero"),
    ("weights-length", lambda: rf.Spectrum([1.0, 2.0], [1.0, 1.0], [1.0]), ValueError,
     r"weights must have the same length"),
    ("weights-nan", lambda: rf.Spectrum([1.0, 2.0], [1.0, 1.0], [1.0, np.nan]), ValueError,
     r"weights contains NaN"),
    ("lam-empty", lambda: rf.Spectrum([], []), ValueError, r"lam is empty"),
    ("lam-2d", lambda: rf.Spectrum(np.ones((2, 2)), np.ones((2, 2))), ValueError,
     r"lam must be one-dimensional"),
    ("lam-all-zero", lambda: rf.Spectrum([0.0, 0.0], [1.0, 1.0]), ValueError, r"tr Σ = 0"),
    ("lam_star-all-zero", lambda: rf.Spectrum([1.0, 1.0], [0.0, 0.0]), ValueError, r"tr Σ\* = 0"),
    ("lam-strings", lambda: rf.Spectrum(["1", "2"], [1.0, 1.0]), TypeError, r"lam.*dtype"),
    ("lam_star-complex", lambda: rf.Spectrum([1.0], [1.0 + 2j]), TypeError, r"lam_star.*complex"),
    ("weights-bool", lambda: rf.Spectrum([1.0, 2.0], [1.0, 1.0], [True, False]), TypeError,
     r"weights.*boolean"),
    ("lam-object-array", lambda: rf.Spectrum(np.array([1.0, None], dtype=object), [1.0, 1.0]),
     TypeError, r"lam.*dtype object"),
    # Spectrum.from_covariances / from_samples
    ("cov-not-symmetric", lambda: rf.Spectrum.from_covariances([[1.0, 0.5], [0.0, 1.0]], np.eye(2)),
     ValueError, r"Sigma is not symmetric"),
    ("cov-not-psd", lambda: rf.Spectrum.from_covariances(np.eye(2), [[1.0, 2.0], [2.0, 1.0]]),
     ValueError, r"Sigma_star is not positive semi-definite"),
    ("cov-not-square", lambda: rf.Spectrum.from_covariances(np.ones((2, 3)), np.eye(2)), ValueError,
     r"Sigma must be a square"),
    ("cov-shape-mismatch", lambda: rf.Spectrum.from_covariances(np.eye(2), np.eye(3)), ValueError,
     r"same shape"),
    ("cov-nan", lambda: rf.Spectrum.from_covariances([[1.0, np.nan], [np.nan, 1.0]], np.eye(2)),
     ValueError, r"Sigma contains NaN"),
    ("cov-empty", lambda: rf.Spectrum.from_covariances(np.zeros((0, 0)), np.zeros((0, 0))), ValueError,
     r"Sigma is empty"),
    ("cov-complex", lambda: rf.Spectrum.from_covariances(np.eye(2) * (1 + 1j), np.eye(2)), TypeError,
     r"Sigma.*complex"),
    ("samples-1d", lambda: rf.Spectrum.from_samples(np.ones(5), np.ones((5, 1))), ValueError,
     r"X_train must be 2-D"),
    ("samples-one-row", lambda: rf.Spectrum.from_samples(np.ones((1, 3)), np.ones((4, 3))), ValueError,
     r"X_train needs at least 2 samples"),
    ("samples-columns-mismatch",
     lambda: rf.Spectrum.from_samples(np.random.default_rng(0).normal(size=(5, 3)),
                                      np.random.default_rng(1).normal(size=(5, 4))),
     ValueError, r"same number of columns.*3 and 4"),
    ("samples-inf", lambda: rf.Spectrum.from_samples(np.eye(3), np.array([[1.0, np.inf, 0], [0, 1, 0]])),
     ValueError, r"X_test contains NaN or inf"),
    # a NaN row is refused, never dropped (issue 12: loaders never drop data silently)
    ("samples-nan-row",
     lambda: rf.Spectrum.from_samples(np.vstack([np.eye(3), [np.nan, 0.0, 0.0]]), np.eye(3)),
     ValueError, r"X_train contains NaN"),
    ("samples-3d", lambda: rf.Spectrum.from_samples(np.ones((4, 3, 2)), np.ones((4, 3))), ValueError,
     r"X_train must be 2-D"),
    ("atoms-2d", lambda: rf.Spectrum(np.ones((2, 2)), np.ones((2, 2))), ValueError,
     r"lam must be one-dimensional"),
    # shift families
    ("shift-unknown", lambda: make_shift("warp"), ValueError, r"unknown shift family 'warp'"),
    ("shift-unknown-param", lambda: make_shift("swap", hgh=2.0), ValueError,
     r"unknown parameter.*hgh.*'swap'"),
    ("shift-swap-high-negative", lambda: swap(high=-1.0), ValueError, r"high must be in"),
    ("shift-scaling-c-zero", lambda: make_shift("scaling", c=0.0), ValueError,
     r"scaling shift: c must be in \[1e-06, 1e\+06\]"),
    ("shift-power-law-trace", lambda: power_law(trace="same"), ValueError, r"trace must be 'equal'"),
    ("shift-rotation-angle-nan", lambda: rotation(angle=float("nan")), ValueError,
     r"rotation shift: angle is NaN"),
    ("shift-tilt-tau-string", lambda: tilt(tau="big"), TypeError, r"tau must be a real number"),
]


@pytest.mark.parametrize(("thunk", "exc", "pattern"), [c[1:] for c in API_CASES],
                         ids=[c[0] for c in API_CASES])
def test_api_bad_input(thunk: Callable[[], object], exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern) as info:
        thunk()
    # the error must not be a ConvergenceError in disguise or a bare numpy message
    assert not isinstance(info.value, rf.ConvergenceError)


# --- CLI -----------------------------------------------------------------------------------------
def _write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


CLI_CASES = [
    # (id, argv (with {tmp} placeholders resolved by a factory), regex on stderr)
    ("curve-phi-negative", lambda t: ["curve", "--phi", "-1"], r"phi.*> 0"),
    ("curve-gamma-negative", lambda t: ["curve", "--sweep", "psi", "--gamma", "-0.5"], r"gamma.*>= 0"),
    ("curve-noise-nan", lambda t: ["curve", "--noise-var", "nan"], r"noise_var.*NaN"),
    ("curve-sweep-psi-negative", lambda t: ["curve", "--sweep", "psi", "--start", "-1"], r"psi.*>= 0"),
    ("curve-unknown-activation", lambda t: ["curve", "--activation", "foo"], r"unknown activation 'foo'"),
    ("curve-quadratic-activation", lambda t: ["curve", "--activation", "quadratic"], r"mu1"),
    ("curve-unknown-shift", lambda t: ["curve", "--shift", "bogus"], r"invalid choice: 'bogus'"),
    ("curve-phi-not-number", lambda t: ["curve", "--phi", "abc"], r"--phi.*invalid float value"),
    ("curve-param-no-equals", lambda t: ["curve", "--shift", "scaling", "--param", "c"],
     r"--param expects NAME=VALUE"),
    ("curve-param-not-number", lambda t: ["curve", "--shift", "scaling", "--param", "c=abc"],
     r"--param c: 'abc' is not a number"),
    ("curve-param-out-of-range", lambda t: ["curve", "--shift", "scaling", "--param", "c=-1"],
     r"c must be in"),
    ("curve-param-unknown", lambda t: ["curve", "--shift", "swap", "--param", "angle=3"],
     r"unknown parameter.*angle"),
    ("curve-num-zero", lambda t: ["curve", "--num", "0"], r"--num must be in \[1, 100000\]"),
    ("curve-log-nonpositive", lambda t: ["curve", "--log", "--start", "0"], r"--log needs positive"),
    ("curve-missing-file", lambda t: ["curve", "--spectrum-file", str(t / "nope.csv")], r"no such file"),
    ("curve-bad-csv", lambda t: ["curve", "--spectrum-file", _write(t, "b.csv", "lam,lam_star\n1,x\n")],
     r"line 2, column lam_star: 'x' is not a number"),
    ("curve-csv-negative", lambda t: ["curve", "--spectrum-file", _write(t, "n.csv", "lam,lam_star\n-1,1\n")],
     r"lam.*>= 0"),
    ("info-unknown-activation", lambda t: ["info", "foo"], r"unknown activation 'foo'"),
    ("info-negative-variance", lambda t: ["info", "relu", "--v", "-1"], r"variance v.*> 0"),
    ("no-command", lambda t: [], r"required: command"),
]


@pytest.mark.parametrize(("argv_factory", "pattern"), [c[1:] for c in CLI_CASES],
                         ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(argv_factory: Callable[[Path], list[str]], pattern: str, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    argv = argv_factory(tmp_path)
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse reports usage errors by exiting with status 2
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    assert re.search(pattern, err), err
    assert "nan" not in out.lower() and "inf" not in out.lower()  # never a non-finite number


# --- upload loader -------------------------------------------------------------------------------
def _npy_bytes(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _pickled_npy() -> bytes:
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = {"evil": 1}, [1, 2]
    return _npy_bytes(obj, allow_pickle=True)


def _pickled_npz() -> bytes:
    obj = np.empty(1, dtype=object)
    obj[0] = {"evil": 1}
    buf = io.BytesIO()
    np.savez(buf, Sigma=obj, Sigma_star=obj)
    return buf.getvalue()


E2 = np.eye(2)
LOADER_CASES = [
    # (id, thunk, regex)  -- all must raise SpectrumFileError
    ("empty-bytes", lambda: load_spectrum(b"", name="s.csv"), r"file is empty"),
    ("blank-csv", lambda: load_spectrum(b"\n \n", name="s.csv"), r"no rows"),
    ("wrong-header", lambda: load_spectrum(b"a,b\n1,2\n", name="s.csv"), r"header must name the columns lam"),
    ("header-only", lambda: load_spectrum(b"lam,lam_star\n", name="s.csv"), r"no data rows"),
    ("non-numeric-cell", lambda: load_spectrum(b"lam,lam_star\n1,2\n3,abc\n", name="s.csv"),
     r"line 3, column lam_star: 'abc' is not a number"),
    ("ragged-row", lambda: load_spectrum(b"lam,lam_star\n1,2\n3\n", name="s.csv"),
     r"line 3 has 1 fields, the header has 2"),
    ("csv-nan", lambda: load_spectrum(b"lam,lam_star\nnan,1\n", name="s.csv"), r"lam contains NaN"),
    ("csv-inf", lambda: load_spectrum(b"lam,lam_star\n1,inf\n", name="s.csv"), r"lam_star contains inf"),
    ("csv-negative-eigenvalue", lambda: load_spectrum(b"lam,lam_star\n1,1\n-2,1\n", name="s.csv"),
     r"lam must be >= 0"),
    ("csv-negative-weight", lambda: load_spectrum(b"lam,lam_star,weight\n1,1,1\n2,1,-1\n", name="s.csv"),
     r"weights must be >= 0"),
    ("csv-weights-sum-zero", lambda: load_spectrum(b"lam,lam_star,weight\n1,1,0\n2,1,0\n", name="s.csv"),
     r"weights sum to zero"),
    ("csv-not-utf8", lambda: load_spectrum(b"lam,lam_star\n\xff\xfe\x00\x81", name="s.csv"), r"not a UTF-8"),
    ("csv-too-many-atoms", "too_many_atoms", r"more than 3 atoms"),
    ("oversized-bytes", "oversized_bytes", r"larger than"),
    ("oversized-path", "oversized_path", r"larger than"),
    ("missing-path", lambda: load_spectrum("/nonexistent/dir/spec.csv"), r"no such file"),
    ("pickled-npy", lambda: load_spectrum(_pickled_npy(), name="s.npy"), r"pickled"),
    ("pickled-npz", lambda: load_spectrum(_pickled_npz(), name="s.npz"), r"pickled"),
    ("npy-wrong-shape", lambda: load_spectrum(_npy_bytes(np.eye(3)), name="s.npy"),
     r"shape \(2, n0, n0\).*got \(3, 3\)"),
    ("npy-not-square", lambda: load_spectrum(_npy_bytes(np.ones((2, 3, 4))), name="s.npy"),
     r"Sigma must be a square matrix"),
    ("npy-truncated", lambda: load_spectrum(_npy_bytes(np.stack([E2, E2]))[:-10], name="s.npy"),
     r"unreadable \.npy"),
    ("npy-complex", lambda: load_spectrum(_npy_bytes(np.stack([E2, E2]).astype(complex)), name="s.npy"),
     r"real numbers, got dtype complex"),
    ("npy-bool", lambda: load_spectrum(_npy_bytes(np.stack([E2, E2]).astype(bool)), name="s.npy"),
     r"real numbers, got dtype bool"),
    ("npy-strings", lambda: load_spectrum(_npy_bytes(np.array([["a"]])), name="s.npy"),
     r"real numbers, got dtype <U1"),
    ("npy-fake-magic", lambda: load_spectrum(b"not numpy at all", name="s.npy"), r"not a NumPy \.npy"),
    ("npz-non-psd", lambda: load_spectrum(_npz_bytes(Sigma=E2, Sigma_star=np.array([[1.0, 3.0], [3.0, 1.0]])),
                                          name="s.npz"), r"Sigma_star is not positive semi-definite"),
    ("npz-non-symmetric", lambda: load_spectrum(_npz_bytes(Sigma=np.array([[1.0, 0.9], [0.0, 1.0]]),
                                                           Sigma_star=E2), name="s.npz"),
     r"Sigma is not symmetric"),
    ("npz-missing-key", lambda: load_spectrum(_npz_bytes(S=E2, S_star=E2), name="s.npz"),
     r"named Sigma and Sigma_star"),
    ("npz-nan", lambda: load_spectrum(_npz_bytes(Sigma=E2 * np.nan, Sigma_star=E2), name="s.npz"),
     r"Sigma contains NaN"),
    ("npz-shape-mismatch", lambda: load_spectrum(_npz_bytes(Sigma=E2, Sigma_star=np.eye(3)), name="s.npz"),
     r"same shape"),
    ("npz-complex", lambda: load_spectrum(_npz_bytes(Sigma=E2 * 1j, Sigma_star=E2), name="s.npz"),
     r"Sigma must hold real numbers"),
    ("npz-corrupt", lambda: load_spectrum(b"PK\x03\x04garbage", name="s.npz"), r"unreadable"),
    ("npz-too-large-dim", "too_large_dim", r"limit is 2"),
    ("pair-shape-mismatch", lambda: load_covariance_pair(_npy_bytes(E2), _npy_bytes(np.eye(3))),
     r"same shape"),
    ("pair-pickled", lambda: load_covariance_pair(_pickled_npy(), _npy_bytes(E2)), r"pickled"),
]


@pytest.mark.parametrize(("thunk", "pattern"), [c[1:] for c in LOADER_CASES],
                         ids=[c[0] for c in LOADER_CASES])
def test_loader_bad_input(thunk: Callable[[], object] | str, pattern: str, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    if thunk == "too_many_atoms":
        monkeypatch.setattr(rio, "MAX_ATOMS", 3)
        thunk = lambda: load_spectrum(b"lam,lam_star\n" + b"1,1\n" * 4, name="s.csv")  # noqa: E731
    elif thunk == "oversized_bytes":
        monkeypatch.setattr(rio, "MAX_BYTES", 64)
        thunk = lambda: load_spectrum(b"lam,lam_star\n" + b"1,1\n" * 40, name="s.csv")  # noqa: E731
    elif thunk == "oversized_path":
        monkeypatch.setattr(rio, "MAX_BYTES", 64)
        path = tmp_path / "big.csv"
        path.write_bytes(b"lam,lam_star\n" + b"1,1\n" * 40)
        thunk = lambda: load_spectrum(path)  # noqa: E731
    elif thunk == "too_large_dim":
        monkeypatch.setattr(rio, "MAX_DIM", 2)
        thunk = lambda: load_spectrum(_npz_bytes(Sigma=np.eye(3), Sigma_star=np.eye(3)), name="s.npz")  # noqa: E731
    with pytest.raises(SpectrumFileError, match=pattern) as info:
        thunk()
    assert isinstance(info.value, ValueError)  # callers can catch ValueError


def test_pickled_npy_is_never_unpickled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader must refuse pickled content before any object is reconstructed."""
    calls: list[object] = []
    real_loads = pickle.loads

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real_loads(*args, **kwargs)

    monkeypatch.setattr(pickle, "loads", spy)
    monkeypatch.setattr(pickle, "load", lambda *a, **k: calls.append(a))
    with pytest.raises(SpectrumFileError):
        load_spectrum(_pickled_npy(), name="x.npy")
    assert calls == []


def test_catalogue_size() -> None:
    """The issue asks for >= 40 distinct bad inputs across API, CLI and uploads."""
    ids = [c[0] for c in API_CASES + CLI_CASES + LOADER_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 40
    assert math.isfinite(float(rf.asymptotics(SPEC, **GOOD).error))  # the good baseline works

