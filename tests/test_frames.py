"""to_dataframe / to_xarray of broadcast results (optional extra ``rfshift[frames]``), and CITATION.cff."""

from __future__ import annotations

import builtins
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import rfshift as rf

SPEC = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
ROOT = Path(__file__).resolve().parent.parent


def _grid():
    return rf.asymptotics(SPEC, phi=np.array([0.5, 1.0])[:, None], psi=[0.1, 0.25, 1.0], gamma=0.01,
                          noise_var=0.1, activation="erf")


def test_to_dataframe_one_row_per_point_with_every_output() -> None:
    pytest.importorskip("pandas")
    res = _grid()
    df = res.to_dataframe()
    assert df.shape[0] == 6
    assert list(df.columns[:4]) == ["phi", "psi", "gamma", "noise_var"]
    for name in ("error", "bias", "variance", "error_id", "kappa", "k_x", "t", "t_bar", "delta",
                 "interpolation_peak", "error_noisy", "error_id_noisy"):
        np.testing.assert_array_equal(df[name].to_numpy(), np.ravel(getattr(res, name)))
    for term in ("w", "x", "eps", "wx", "w_eps", "x_eps", "wx_eps"):
        np.testing.assert_array_equal(df[f"variance_{term}"], np.ravel(getattr(res.variance_terms, term)))
        np.testing.assert_array_equal(df[f"variance_id_{term}"],
                                      np.ravel(getattr(res.variance_terms_id, term)))
    np.testing.assert_array_equal(df["phi"], [0.5, 0.5, 0.5, 1.0, 1.0, 1.0])  # C order
    np.testing.assert_array_equal(df["psi"], [0.1, 0.25, 1.0] * 2)
    assert df.attrs["activation"] == "erf" and df.attrs["rho"] == pytest.approx(res.rho)
    single = rf.asymptotics(SPEC, phi=0.5, psi=0.25, gamma=0.01)
    one = single.to_dataframe()
    assert one.shape[0] == 1 and one["error"][0] == float(single.error)


def test_to_xarray_dims_named_after_varying_parameters() -> None:
    pytest.importorskip("xarray")
    res = _grid()
    ds = res.to_xarray()
    assert tuple(ds["error"].dims) == ("phi", "psi")
    np.testing.assert_array_equal(ds["phi"], [0.5, 1.0])
    np.testing.assert_array_equal(ds["psi"], [0.1, 0.25, 1.0])
    assert float(ds["gamma"]) == 0.01 and ds["gamma"].dims == ()
    np.testing.assert_array_equal(ds["error"].sel(phi=1.0, psi=0.25), res.error[1, 1])
    np.testing.assert_array_equal(ds["variance_wx"], res.variance_terms.wx)
    # zipped parameters along one axis: the first varying parameter names it, the other rides along
    zipped = rf.asymptotics(SPEC, phi=[0.5, 1.0, 2.0], psi=[0.25, 0.5, 1.0], gamma=[0.01, 0.1, 1.0])
    z = zipped.to_xarray()
    assert tuple(z["error"].dims) == ("phi",) and tuple(z["psi"].dims) == ("phi",)
    # a full meshgrid (parameter varying along two axes): 2-D coordinate, axes named after others
    g = rf.asymptotics(SPEC, phi=[[0.5, 1.0], [2.0, 3.0]], psi=0.25, gamma=[[0.01], [0.1]])
    xg = g.to_xarray()
    assert xg["phi"].ndim == 2 and tuple(xg["error"].dims) == ("gamma", "axis1")


def test_analysis_results_to_frames() -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("xarray")
    cur = rf.robustness_curve(SPEC, phi=0.5, features_per_sample=[2.0, 4.0, 8.0], noise_var=0.1)
    df = cur.to_dataframe()
    assert df.columns[0] == "features_per_sample" and df.shape == (3, 10)
    np.testing.assert_array_equal(df["ratio"], cur.ratio)
    assert tuple(cur.to_xarray()["gap"].dims) == ("features_per_sample",)
    rel = rf.linear_relation(SPEC, phi=[0.5, 1.0, 2.0], noise_var=0.1)
    np.testing.assert_array_equal(rel.to_dataframe()["intercept_noisy"], rel.intercept_noisy())
    assert tuple(rel.to_xarray()["slope"].dims) == ("phi",)


SCALARS = ("activation", "rho", "omega", "rho_star", "omega_star", "r", "target_linear",
           "target_linear_test")


def test_every_broadcast_parameter_names_its_axis() -> None:
    pytest.importorskip("xarray")
    res = rf.asymptotics(SPEC, phi=0.5, psi=[0.25, 0.3], gamma=0.01, nonlinear_var=[[0.0], [0.1]])
    ds = res.to_xarray()
    assert dict(ds.sizes) == {"nonlinear_var": 2, "psi": 2}
    np.testing.assert_array_equal(ds["nonlinear_var"], [0.0, 0.1])
    np.testing.assert_array_equal(ds["error"].sel(nonlinear_var=0.1, psi=0.3), res.error[1, 1])
    assert ds["nonlinear_var_test"].dims == ("nonlinear_var",)  # defaults to nonlinear_var: rides along
    t = rf.asymptotics(SPEC, phi=0.5, psi=0.25, gamma=[0.01, 0.1], nonlinear_var_test=[[0.0], [0.2]])
    assert dict(t.to_xarray().sizes) == {"nonlinear_var_test": 2, "gamma": 2}
    df = res.to_dataframe()
    assert list(df.columns[:6]) == ["phi", "psi", "gamma", "noise_var", "nonlinear_var",
                                    "nonlinear_var_test"]
    np.testing.assert_array_equal(df["nonlinear_var"], [0.0, 0.0, 0.1, 0.1])
    # a plain-number nonlinear_var is still a per-point column / scalar coordinate
    plain = _grid()
    assert (plain.to_dataframe()["nonlinear_var"] == 0.0).all()
    assert plain.to_xarray()["nonlinear_var"].dims == ()


@pytest.mark.parametrize("point", [dict(psi=0.25), dict(psi=[0.25, 1.0])])
def test_whole_result_scalars_in_attrs_for_0d_and_arrays(point) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("xarray")
    res = rf.asymptotics(SPEC, phi=0.5, gamma=0.01, teacher="tanh", **point)
    df, ds = res.to_dataframe(), res.to_xarray()
    for name in SCALARS:
        assert name not in df.columns and name not in ds.data_vars and name not in ds.coords
    for attrs in (df.attrs, ds.attrs):
        assert set(SCALARS) | {"teacher"} <= set(attrs)
        assert attrs["rho"] == pytest.approx(res.rho) and attrs["teacher"] == "tanh"
        assert attrs["target_linear"] == pytest.approx(res.target_linear)
    assert "error" in df.columns and "error" in ds.data_vars
    assert ds["psi"].ndim == np.ndim(point["psi"]) and "psi" in ds.coords


def test_missing_extra_names_it(monkeypatch) -> None:
    real_import = builtins.__import__

    def fake(name, *args, **kwargs):
        if name in ("pandas", "xarray"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    import importlib

    monkeypatch.setattr(importlib, "import_module",
                        lambda name, *a: fake(name) if name in ("pandas", "xarray") else real_import(name))
    res = rf.asymptotics(SPEC, phi=0.5, psi=0.25, gamma=0.01)
    with pytest.raises(ImportError, match=r"to_dataframe\(\) needs pandas.*rfshift\[frames\]"):
        res.to_dataframe()
    with pytest.raises(ImportError, match=r"to_xarray\(\) needs xarray.*rfshift\[frames\]"):
        res.to_xarray()


def test_citation_cff_is_valid_and_cites_the_papers() -> None:
    text = (ROOT / "CITATION.cff").read_text()
    yaml = pytest.importorskip("ruamel.yaml")
    data = yaml.YAML(typ="safe").load(text)
    assert data["cff-version"] == "1.2.0" and data["type"] == "software"
    titles = [ref["title"] for ref in data["references"]]
    assert "Covariate Shift in High-Dimensional Random Feature Regression" in titles
    assert "Overparameterization Improves Robustness to Covariate Shift in High Dimensions" in titles
    assert any("Fine-Grained Bias-Variance" in t for t in titles)
    assert any(t.startswith("The generalization error of random features regression") for t in titles)
    assert "arXiv:2111.08234" in text and "arXiv:2011.03321" in text and "arXiv:1908.05355" in text
    exe = shutil.which("cffconvert") or str(Path(__import__("sys").executable).parent / "cffconvert")
    if Path(exe).exists():
        out = subprocess.run([exe, "--validate", "-i", str(ROOT / "CITATION.cff")], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
