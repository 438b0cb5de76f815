"""Shift families (rfshift.shifts) and safe spectrum files (rfshift.io)."""

from __future__ import annotations

import io
import math
import pickle

import numpy as np
import pytest

import rfshift as rf
from rfshift import io as rio
from rfshift.io import SpectrumFileError, load_covariance_pair, load_spectrum, spectrum_to_csv
from rfshift.shifts import FAMILIES, make_shift

# --- shift families --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_builds_valid_spectra(name):
    fam = FAMILIES[name]
    assert fam.name == name and fam.description
    spec = make_shift(name)
    assert isinstance(spec, rf.Spectrum)
    for pname, (default, lo, hi) in fam.params.items():
        assert lo <= default <= hi, pname
        for val in (lo, hi, default):
            if pname in ("high", "c") and val == 0:
                continue
            s = make_shift(name, **{pname: val})
            assert np.all(np.isfinite(s.lam)) and s.s > 0 and s.s_star > 0
    res = rf.asymptotics(spec, phi=0.5, psi=0.3, gamma=0.01, noise_var=0.1)
    assert np.isfinite(res.error) and res.error > 0


def test_none_family_is_isotropic():
    spec = make_shift("none")
    assert spec.lam.tolist() == [1.0] and spec.lam_star.tolist() == [1.0]


def test_scaling():
    spec = make_shift("scaling", c=3.0)
    np.testing.assert_allclose(spec.lam_star, 3.0 * spec.lam)
    res = rf.asymptotics(spec, phi=0.5, psi=0.3, gamma=0.01, noise_var=0.1)
    assert float(res.error) == pytest.approx(3.0 * float(res.error_id), rel=1e-12)


def test_swap():
    spec = make_shift("swap", high=2.0, low=0.25)
    assert spec.lam.tolist() == [2.0, 0.25] and spec.lam_star.tolist() == [0.25, 2.0]
    assert spec.s == spec.s_star


@pytest.mark.parametrize("exponent, alpha", [(1.0, 0.5), (2.0, 2.0), (0.5, -1.0), (0.0, 3.0)])
def test_power_law(exponent, alpha):
    from rfshift.shifts import power_law

    spec = power_law(exponent, alpha, n_atoms=50)
    k = np.arange(1, 51, dtype=float)
    lam = k**-exponent / np.mean(k**-exponent)
    np.testing.assert_allclose(spec.lam, lam, rtol=1e-12)
    assert spec.s == pytest.approx(1.0) and spec.s_star == pytest.approx(1.0)
    ls = lam**alpha
    np.testing.assert_allclose(spec.lam_star, ls / ls.mean(), rtol=1e-12)
    raw = power_law(exponent, alpha, n_atoms=50, trace="raw")
    np.testing.assert_allclose(raw.lam_star, ls, rtol=1e-12)
    if alpha == 1.0:
        np.testing.assert_allclose(spec.lam_star, spec.lam)
    with pytest.raises(ValueError, match="trace"):
        power_law(exponent, alpha, trace="nope")


def test_tilt_moves_test_mass():
    base = make_shift("tilt", tau=0.0)
    np.testing.assert_allclose(base.lam_star, base.lam, rtol=1e-12)
    up, down = make_shift("tilt", tau=1.5), make_shift("tilt", tau=-1.5)
    for s in (up, down):
        assert s.s_star == pytest.approx(s.s, rel=1e-12)
    grid = np.unique(base.lam)
    _, c_id = base.test_mass_cdf(grid)
    _, c_up = up.test_mass_cdf(grid)
    _, c_down = down.test_mass_cdf(grid)
    # tau > 0 puts the test mass on large training directions: ν_up([0,t]) <= ν_ID([0,t]) <= ν_down
    assert np.all(c_up <= c_id + 1e-12) and np.all(c_id <= c_down + 1e-12)
    assert c_up[3] < c_id[3] - 1e-3
    # ReLU, noiseless (w monotone, THEORY.md §6): more mass on learned directions helps
    kw = dict(phi=0.5, psi=0.2, gamma=0.01, noise_var=0.0)
    e_up, e_id, e_down = (float(rf.asymptotics(s, **kw).error) for s in (up, base, down))
    assert e_up < e_id < e_down


@pytest.mark.parametrize("angle", [0.0, 30.0, 45.0, 90.0, -60.0])
def test_rotation_matches_rotated_covariance(angle):
    spec = make_shift("rotation", angle=angle, high=2.0, low=0.5)
    th = math.radians(angle)
    R = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    S = np.diag([2.0, 0.5])
    ref = rf.Spectrum.from_covariances(S, R @ S @ R.T)
    order = np.argsort(-ref.lam)
    np.testing.assert_allclose(spec.lam, ref.lam[order], atol=1e-12)
    np.testing.assert_allclose(spec.lam_star, ref.lam_star[order], atol=1e-12)
    if angle == 90.0:
        np.testing.assert_allclose(spec.lam_star, [0.5, 2.0], atol=1e-12)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: make_shift("nope"), ValueError, "unknown shift family"),
    (lambda: make_shift("swap", hi=2.0), ValueError, "unknown parameter"),
    (lambda: make_shift("scaling", c=0.0), ValueError, "c must be"),
    (lambda: make_shift("scaling", c=-1.0), ValueError, "c must be"),
    (lambda: make_shift("scaling", c=float("nan")), ValueError, "c must be"),
    (lambda: make_shift("swap", high=float("inf")), ValueError, "high"),
    (lambda: make_shift("swap", low=-0.1), ValueError, "low"),
    (lambda: make_shift("tilt", tau=100.0), ValueError, "tau"),
    (lambda: make_shift("rotation", angle="x"), TypeError, "angle"),
    (lambda: make_shift("power_law", exponent=None), TypeError, "exponent"),
])
def test_shift_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- io --------------------------------------------------------------------------------------------


def _same(a: rf.Spectrum, b: rf.Spectrum):
    np.testing.assert_array_equal(a.lam, b.lam)
    np.testing.assert_array_equal(a.lam_star, b.lam_star)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-15)


def test_csv_round_trip_exact(tmp_path):
    rng = np.random.default_rng(0)
    spec = rf.Spectrum(rng.uniform(0, 3, 17), rng.uniform(0, 3, 17), rng.uniform(0.1, 1, 17))
    text = spectrum_to_csv(spec)
    assert text.splitlines()[0] == "lam,lam_star,weights"
    _same(load_spectrum(text.encode()), spec)
    p = tmp_path / "spec.csv"
    p.write_text(text)
    _same(load_spectrum(p), spec)
    _same(load_spectrum(str(p)), spec)


def test_csv_variants():
    spec = load_spectrum(b"\xef\xbb\xbfLAM, Lam_Star\n1,2\n\n3,4\n")  # BOM, case, spaces, blank line
    assert spec.lam.tolist() == [1.0, 3.0] and spec.lam_star.tolist() == [2.0, 4.0]
    np.testing.assert_array_equal(spec.weights, [0.5, 0.5])
    spec = load_spectrum(b"weight,lam_star,lam\n3,1,2\n1,1,4\n")  # any column order, old alias
    assert spec.lam.tolist() == [2.0, 4.0]
    np.testing.assert_allclose(spec.weights, [0.75, 0.25])


def test_csv_api_names_weights_are_used():
    """Fault 3 of issue 12: ``weights`` (the Spectrum keyword) was silently dropped."""
    data = b"lam,lam_star,weights\n2,0.5,1\n1,1,2\n0.5,2,1\n"
    spec = load_spectrum(data)
    np.testing.assert_allclose(spec.weights, [0.25, 0.5, 0.25], rtol=1e-15)
    ref = rf.Spectrum([2, 1, 0.5], [0.5, 1, 2], [1, 2, 1])
    kw = dict(phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1)
    e = float(rf.asymptotics(spec, **kw).error)
    assert e == float(rf.asymptotics(ref, **kw).error)
    # ... and differs from the uniform-weight answer the old loader gave (0.5432 vs 0.4987)
    assert abs(e - float(rf.asymptotics(rf.Spectrum([2, 1, 0.5], [0.5, 1, 2]), **kw).error)) > 0.04


def test_csv_columns_table_driven():
    from rfshift.io import COLUMNS
    assert COLUMNS["weights"] == COLUMNS["weight"] == "weights"
    assert {COLUMNS[k] for k in COLUMNS} <= {"lam", "lam_star", "weights", "target_power"}


@pytest.mark.parametrize("data, match", [
    (b"lam,lam_star,comment\n1,2,x\n", "unknown column 'comment'"),
    (b"lam,lam_star,weigths,extra\n1,2,1,1\n", "'weigths', 'extra'"),
    (b"lam,lam_star,\n1,2,\n", "unknown column ''"),
    (b"lam,lam_star,weight,weights\n1,2,1,1\n", "'weight' and 'weights' both give weights"),
    (b"lam,lam,lam_star\n1,2,3\n", "'lam' and 'lam' both give lam"),
    (b"1,2\n3,4\n", "holds numbers, not a header"),
    (b"lam,weights\n1,2\n", "missing lam_star"),
    (b"lam,lam_star\n1,2\n3,nan\n", "line 3, column lam_star: lam_star contains NaN"),
    (b"lam,lam_star,weights\n1,2,1\n3,4,inf\n", "line 3, column weights"),
    (b"lam,lam_star\n1,2\n3,\n", "line 3, column lam_star: '' is not a number"),
])
def test_csv_never_drops_data(data, match):
    with pytest.raises(SpectrumFileError, match=match):
        load_spectrum(data)


def test_npz_atoms_and_unknown_arrays():
    spec = load_spectrum(_npz_bytes(lam=[2.0, 1.0], lam_star=[1.0, 2.0], weights=[1.0, 3.0]))
    np.testing.assert_allclose(spec.weights, [0.25, 0.75])
    with pytest.raises(SpectrumFileError, match="unknown array 'note'"):
        load_spectrum(_npz_bytes(lam=[2.0, 1.0], lam_star=[1.0, 2.0], note=[0.0]))
    with pytest.raises(SpectrumFileError, match="one-dimensional"):
        load_spectrum(_npz_bytes(lam=np.ones((2, 2)), lam_star=np.ones((2, 2))))
    S, Ss = _covs()
    with pytest.raises(SpectrumFileError, match="unused arrays 'extra'"):
        load_spectrum(_npz_bytes(Sigma=S, Sigma_star=Ss, extra=np.ones(2)))
    with pytest.raises(SpectrumFileError, match="unused arrays 'lam'"):
        load_spectrum(_npz_bytes(Sigma=S, Sigma_star=Ss, lam=np.ones(6)))
    with pytest.raises(SpectrumFileError, match="no arrays"):
        load_spectrum(_npz_bytes())


@pytest.mark.parametrize("data, match", [
    (b"", "empty"),
    (b"\n\n", "no rows"),
    (b"a,b\n1,2\n", "header"),
    (b"lam,lam_star\n", "no data rows"),
    (b"lam,lam_star\n1,2,3\n", "fields"),
    (b"lam,lam_star\n1,abc\n", "not a number"),
    (b"lam,lam_star\n-1,2\n", ">= 0"),
    (b"lam,lam_star\nnan,2\n", "NaN"),
    (b"lam,lam_star\ninf,2\n", "inf"),
    (b"lam,lam_star,weight\n1,2,0\n", "zero"),
    (b"\xff\xfe\x00garbage\x80", "UTF-8"),
])
def test_csv_malformed(data, match):
    with pytest.raises(SpectrumFileError, match=match):
        load_spectrum(data)
    assert issubclass(SpectrumFileError, ValueError)


def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy_bytes(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _covs(n=6, seed=0):
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    return A @ A.T / n, B @ B.T / n


def test_npz_npy_round_trips(tmp_path):
    S, Ss = _covs()
    ref = rf.Spectrum.from_covariances(S, Ss)
    _same(load_spectrum(_npz_bytes(Sigma=S, Sigma_star=Ss)), ref)
    _same(load_spectrum(_npy_bytes(np.stack([S, Ss]))), ref)
    p1, p2 = tmp_path / "S.npy", tmp_path / "Ss.npy"
    np.save(p1, S)
    np.save(p2, Ss)
    _same(load_covariance_pair(p1, p2), ref)
    _same(load_covariance_pair(p1.read_bytes(), p2.read_bytes()), ref)
    p3 = tmp_path / "pair.npz"
    np.savez(p3, Sigma=S, Sigma_star=Ss)
    _same(load_spectrum(p3), ref)
    # integer matrices are fine
    _same(load_spectrum(_npz_bytes(Sigma=np.eye(3, dtype=int), Sigma_star=2 * np.eye(3, dtype=int))),
          rf.Spectrum.from_covariances(np.eye(3), 2 * np.eye(3)))


class _Evil:
    """Unpickling this would create a file: the loaders must never unpickle."""

    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_content_is_never_loaded(tmp_path):
    marker = tmp_path / "pwned"
    _Evil.path = str(marker)
    obj = np.array([_Evil(), 1], dtype=object)
    with pytest.raises(SpectrumFileError, match="pickle"):
        load_spectrum(_npy_bytes(obj, allow_pickle=True))
    buf = io.BytesIO()
    np.savez(buf, Sigma=obj, Sigma_star=obj)
    with pytest.raises(SpectrumFileError, match="pickle"):
        load_spectrum(buf.getvalue())
    with pytest.raises(SpectrumFileError):
        load_covariance_pair(_npy_bytes(obj, allow_pickle=True), _npy_bytes(np.eye(2)))
    # a raw pickle stream is not a spectrum file either
    with pytest.raises(SpectrumFileError):
        load_spectrum(pickle.dumps(_Evil()))
    assert not marker.exists()


@pytest.mark.parametrize("data, match", [
    (_npz_bytes(Sigma=np.eye(2)), "Sigma_star"),
    (_npz_bytes(Sigma=np.eye(2), Sigma_star=np.eye(3)), "same shape"),
    (_npz_bytes(Sigma=np.ones((2, 3)), Sigma_star=np.ones((2, 3))), "square"),
    (_npz_bytes(Sigma=np.eye(2) * 1j, Sigma_star=np.eye(2)), "real"),
    (_npz_bytes(Sigma=np.array([[1.0, 2.0], [2.0, 1.0]]), Sigma_star=np.eye(2)), "positive semi-definite"),
    (_npz_bytes(Sigma=np.array([[1.0, 0.3], [0.0, 1.0]]), Sigma_star=np.eye(2)), "symmetric"),
    (_npz_bytes(Sigma=np.full((2, 2), np.nan), Sigma_star=np.eye(2)), "NaN"),
    (_npy_bytes(np.eye(3)), r"\(2, n0, n0\)"),
    (_npy_bytes(np.stack([np.eye(2)] * 3)), r"\(2, n0, n0\)"),
    (_npy_bytes(np.array(["a", "b"])), "real"),
    (b"PK\x03\x04 truncated zip", "unreadable"),
    (b"\x93NUMPY garbage", "unreadable"),
])
def test_binary_malformed(data, match):
    with pytest.raises(SpectrumFileError, match=match):
        load_spectrum(data)


def test_missing_file_and_limits(tmp_path, monkeypatch):
    with pytest.raises(SpectrumFileError, match="no such file"):
        load_spectrum(tmp_path / "missing.csv")
    with pytest.raises(SpectrumFileError, match="no such file"):
        load_spectrum(tmp_path)  # a directory
    monkeypatch.setattr(rio, "MAX_BYTES", 100)
    big = b"lam,lam_star\n" + b"1,1\n" * 50
    with pytest.raises(SpectrumFileError, match="larger"):
        load_spectrum(big)
    p = tmp_path / "big.csv"
    p.write_bytes(big)
    with pytest.raises(SpectrumFileError, match="larger"):
        load_spectrum(p)
    monkeypatch.setattr(rio, "MAX_BYTES", 50 * 2**20)
    monkeypatch.setattr(rio, "MAX_ATOMS", 10)
    with pytest.raises(SpectrumFileError, match="atoms"):
        load_spectrum(big)
    monkeypatch.setattr(rio, "MAX_DIM", 4)
    with pytest.raises(SpectrumFileError, match="limit"):
        load_spectrum(_npz_bytes(Sigma=np.eye(5), Sigma_star=np.eye(5)))


def test_weights_column_reaches_cli_and_app_upload(tmp_path, capsys):
    """The CLI and the app upload read files through rfshift.io: same weights, same numbers."""
    import json

    from rfshift.cli import main

    data = b"lam,lam_star,weights\n2,0.5,1\n1,1,2\n0.5,2,1\n"
    p = tmp_path / "w.csv"
    p.write_bytes(data)
    assert main(["curve", "--spectrum-file", str(p), "--sweep", "psi", "--start", "0.25",
                 "--stop", "0.25", "--num", "1", "--phi", "0.5", "--gamma", "0.01",
                 "--noise-var", "0.1", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    ref = rf.asymptotics(rf.Spectrum([2, 1, 0.5], [0.5, 1, 2], [1, 2, 1]), phi=0.5, psi=0.25,
                         gamma=0.01, noise_var=0.1)
    assert row["error"] == float(ref.error)
    p.write_bytes(b"lam,lam_star,weights,notes\n2,0.5,1,a\n")
    assert main(["curve", "--spectrum-file", str(p)]) == 2
    assert "unknown column 'notes'" in capsys.readouterr().err
    pytest.importorskip("streamlit")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))
    try:
        from ui import pickers
    except ImportError:  # the app may be reorganised; the upload must still go through rfshift.io
        pytest.skip("app/ui/pickers.py not importable")
    finally:
        sys.path.pop(0)
    loader = getattr(pickers, "_load_upload", None)
    if loader is None:
        pytest.skip("app upload helper moved")
    w = loader(data, "w.csv")[2]
    np.testing.assert_allclose(w, [0.25, 0.5, 0.25])
    with pytest.raises(SpectrumFileError, match="unknown column 'notes'"):
        loader(b"lam,lam_star,notes\n2,0.5,a\n", "x.csv")


@pytest.mark.parametrize("extra, match", [
    (["--shift", "swap"], "drop --shift/--param"),
    (["--param", "low=0.5"], "drop --shift/--param"),
])
def test_cli_never_ignores_inputs(tmp_path, capsys, extra, match):
    from rfshift.cli import main

    p = tmp_path / "s.csv"
    p.write_text("lam,lam_star\n1,2\n")
    assert main(["curve", "--spectrum-file", str(p), *extra]) == 2
    assert match in capsys.readouterr().err
    assert main(["curve", "--param", "low=0.5", "--param", "low=0.7"]) == 2
    assert "given twice" in capsys.readouterr().err
