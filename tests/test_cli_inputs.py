"""No input ignored silently, user-sized loops capped, one range table per named parameter, and the
finite-size interpolation peak reported as inf with a flag (fresh-user trial findings)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import rfshift as rf
from rfshift.activations import available_activations, get_activation
from rfshift.cli import _NO_LINEAR, MAX_CELLS, MAX_NUM, NOISE_VAR_DEFAULT, build_parser, main
from rfshift.finite_size import MAX_DRAWS
from rfshift.io import SpectrumFileError, load_spectrum
from rfshift.shifts import FAMILIES, TARGETS, make_shift, make_target


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. explicit inputs that would be ignored are refused ----------------------------------------

@pytest.mark.parametrize("sweep, flag", [(None, "--psi"), ("psi", "--psi"), ("phi", "--phi"),
                                         ("gamma", "--gamma")])
def test_curve_refuses_value_of_swept_parameter(capsys, sweep, flag):
    argv = ["curve", "--num", "2", flag, "0.3"] + (["--sweep", sweep] if sweep else [])
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert f"{flag} is the swept parameter" in err and len(err.strip().splitlines()) == 1


def test_curve_accepts_fixed_parameters_not_swept(capsys):
    code, out, _ = _run(capsys, "curve", "--num", "2", "--sweep", "gamma", "--log", "--start", "0.01",
                        "--stop", "0.1", "--phi", "0.7", "--psi", "0.4", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    res = rf.asymptotics(make_shift("swap"), phi=0.7, psi=0.4, gamma=np.geomspace(0.01, 0.1, 2),
                         noise_var=NOISE_VAR_DEFAULT)
    np.testing.assert_allclose([r["error"] for r in doc["rows"]], res.error, rtol=1e-15)
    # the JSON records every fixed input
    assert doc["phi"] == 0.7 and doc["psi"] == 0.4 and "gamma" not in doc and doc["sweep"] == "gamma"
    assert doc["noise_var"] == NOISE_VAR_DEFAULT and doc["activation"] == "relu"
    assert doc["target"] is None and doc["teacher"] is None and doc["nonlinear_var"] == 0.0
    assert doc["spectrum_source"] == "--shift swap"


def test_ensemble_k_needs_ensemble_quantity(capsys):
    code, out, err = _run(capsys, "curve", "--num", "2", "--ensemble-k", "3")
    assert code == 2 and out == "" and "--ensemble-k needs --quantities ensemble" in err
    code, out, _ = _run(capsys, "curve", "--num", "2", "--ensemble-k", "3", "--quantities", "ensemble",
                        "--format", "json")
    assert code == 0 and "ensemble_k3_error" in json.loads(out)["rows"][0]


def test_spectrum_file_target_power_not_replaced(capsys, tmp_path):
    f = tmp_path / "tp.csv"
    f.write_text("lam,lam_star,target_power\n1.5,0.5,1\n0.5,1.5,2\n")
    code, out, err = _run(capsys, "curve", "--num", "2", "--spectrum-file", f, "--target", "isotropic")
    assert code == 2 and out == "" and "has a target_power column" in err
    g = tmp_path / "plain.csv"
    g.write_text("lam,lam_star\n1.5,0.5\n0.5,1.5\n")
    code, out, err = _run(capsys, "curve", "--num", "2", "--spectrum-file", g, "--target", "power_law",
                          "--format", "json")
    assert code == 0, err
    assert json.loads(out)["spectrum_source"] == str(g)


def test_spectrum_file_directory_is_named(capsys, tmp_path):
    with pytest.raises(SpectrumFileError, match="is a directory"):
        load_spectrum(tmp_path)
    code, _, err = _run(capsys, "curve", "--spectrum-file", tmp_path)
    assert code == 2 and "is a directory, not a file" in err


# --- 2. user-sized arrays and loops are capped ----------------------------------------------------

def test_num_is_capped(capsys):
    code, out, err = _run(capsys, "curve", "--num", 10**8)
    assert code == 2 and out == "" and f"--num must be in [1, {MAX_NUM}]" in err
    # num × atoms bounds memory: power_law has 200 atoms
    code, out, err = _run(capsys, "curve", "--shift", "power_law", "--num", MAX_CELLS // 200 + 1)
    assert code == 2 and out == "" and "num × atoms" in err
    assert f"{MAX_NUM:,}" in build_parser()._subparsers._group_actions[0].choices["curve"].format_help()


def test_finite_size_draws_capped():
    with pytest.raises(ValueError, match=r"draws must be <= 10000"):
        rf.finite_size(np.eye(3), np.eye(3), m=4, n1=4, gamma=0.1, draws=MAX_DRAWS + 1)


def test_validate_checks_arguments_before_printing(capsys):
    pytest.importorskip("jax")
    for argv in (["--n0", "-5"], ["--trials", "100000000"]):
        code, out, err = _run(capsys, "validate", "--quick", *argv)
        assert code == 2 and out == "", (argv, out)
        assert err.startswith("rfshift validate: error:") and len(err.strip().splitlines()) == 1


# --- 3. the CLI's noise default is stated --------------------------------------------------------

@pytest.mark.parametrize("cmd", ["curve", "finite"])
def test_help_states_noise_default(cmd):
    sub = build_parser()._subparsers._group_actions[0].choices[cmd]
    text = " ".join(sub.format_help().split())
    assert f"(default {NOISE_VAR_DEFAULT:g}; the Python API's noise_var defaults to 0)" in text


# --- 4. one table per named parameter: the slider range (params) inside the accepted range (limits),
# and the functions enforce exactly the accepted range ----------------------------------------------

def _accepted(fam, p):
    return fam.limits.get(p, fam.params[p][1:])


_CASES = [("shift", n, p, (f.params[p][0], *_accepted(f, p))) for n, f in FAMILIES.items()
          for p in f.params] + [
    ("target", n, p, (f.params[p][0], *_accepted(f, p))) for n, f in TARGETS.items() for p in f.params]


@pytest.mark.parametrize("kind, name, param, rng", _CASES, ids=[f"{c[1]}-{c[0]}-{c[2]}" for c in _CASES])
def test_slider_range_inside_accepted_range(kind, name, param, rng):
    fam = (FAMILIES if kind == "shift" else TARGETS)[name]
    default, lo, hi = fam.params[param]
    assert rng[1] <= lo <= default <= hi <= rng[2]


@pytest.mark.parametrize("kind, name, param, rng", _CASES, ids=[f"{c[1]}-{c[0]}-{c[2]}" for c in _CASES])
def test_accepted_range_is_the_enforced_range(kind, name, param, rng):
    _, lo, hi = rng
    base = make_shift("swap")

    def build(v):
        return make_shift(name, **{param: v}) if kind == "shift" else make_target(base, name, **{param: v})

    for v in (lo, hi):
        build(v)
    message = "^" + re.escape(f"{name} {kind}: {param} must be in [{lo:g}, {hi:g}]")
    for v in (lo - 1e-9 * max(1.0, abs(lo)), hi + 1e-9 * max(1.0, abs(hi))):
        with pytest.raises(ValueError, match=message):
            build(v)
    with pytest.raises(ValueError, match=rf"^{name} {kind}: {param} is NaN"):
        build(float("nan"))


def test_cli_refuses_negative_aligned_tau(capsys):
    code, out, err = _run(capsys, "curve", "--num", "2", "--target", "aligned", "--target-param", "tau=-1")
    assert code == 2 and out == "" and "aligned target: tau must be in [0, 10]" in err


# --- 5. activations without a linear part ---------------------------------------------------------

def test_no_linear_list_and_curve_help():
    computed = {a for a in available_activations() if get_activation(a).constants(1.0).mu1 == 0}
    assert computed == set(_NO_LINEAR)
    text = " ".join(build_parser()._subparsers._group_actions[0].choices["curve"].format_help().split())
    usable = text.split("--activation ACTIVATION one of ")[1].split(" (not ")[0]
    assert "relu" in usable and not any(a in usable.split(", ") for a in _NO_LINEAR)


def test_finite_quadratic_reports_without_limit(capsys, tmp_path):
    np.save(tmp_path / "S.npy", np.diag([2.0, 1.0, 0.5, 0.5]))
    code, out, err = _run(capsys, "finite", "--sigma", tmp_path / "S.npy", "--m", "8", "--n1", "8",
                          "--activation", "quadratic", "--draws", "3", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["limit"] is None and "mu1" in doc["limit_unavailable"]
    assert doc["finite_size"]["error"] > 0


# --- 6. interpolation peak, recorded parameters, consistent refusals -----------------------------

def test_finite_size_interpolation_peak_is_inf_and_flagged(capsys, tmp_path):
    S = np.diag([2.0, 1.0, 0.5, 0.5])
    res = rf.finite_size(S, S[::-1, ::-1], m=8, n1=8, gamma=0.0, draws=3)
    assert res.interpolation_peak
    for f in ("error", "variance", "error_id", "variance_id"):
        assert math.isinf(getattr(res, f)) and math.isinf(getattr(res, f + "_se")), f
    assert not rf.finite_size(S, S, m=8, n1=8, gamma=0.1, draws=3).interpolation_peak
    np.save(tmp_path / "S.npy", S)
    code, out, err = _run(capsys, "finite", "--sigma", tmp_path / "S.npy", "--m", "8", "--n1", "8",
                          "--gamma", "0", "--draws", "3", "--seed", "5", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["interpolation_peak"] is True and doc["finite_size"]["error_se"] is None
    assert (doc["gamma"], doc["noise_var"], doc["seed"], doc["draws"]) == (0.0, NOISE_VAR_DEFAULT, 5, 3)
    # the concentration note does not tell the user to run what they just ran
    assert doc["concentration_warning"] and not any("use rfshift.finite_size" in w
                                                    for w in doc["concentration_warning"])


def test_spectrum_n0_at_least_atoms():
    with pytest.raises(ValueError, match="n0 = 1 is smaller than the number of atoms"):
        rf.Spectrum([1.0, 2.0], [1.0, 2.0], n0=1)
    with pytest.raises(ValueError, match="n0 = 1 is smaller than the number of atoms of positive weight"):
        rf.Spectrum([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.5, 0.5, 0.0], n0=1)
    assert rf.Spectrum([1.0, 2.0], [1.0, 2.0], n0=2).n0 == 2
    assert rf.Spectrum([1.0, 2.0], [1.0, 2.0], [1.0, 0.0], n0=1).n0 == 1


def test_finite_size_zero_target_cov_refused():
    with pytest.raises(ValueError, match="target_cov is zero"):
        rf.finite_size(np.eye(3), np.eye(3), m=4, n1=4, gamma=0.1, draws=3, target_cov=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="target_cov is zero"):
        rf.finite_size(np.eye(3), np.eye(3), m=4, n1=4, gamma=0.1, draws=3, target_cov=np.zeros(3))


def test_from_samples_m_at_most_rows():
    X = np.random.default_rng(0).standard_normal((50, 4))
    with pytest.raises(ValueError, match="m = 100 is larger than the 50 rows of X_train"):
        rf.finite_size.from_samples(X, X, m=100, n1=8, gamma=0.1, draws=3)
    assert rf.finite_size.from_samples(X, X, m=50, n1=8, gamma=0.1, draws=3).m == 50


# --- finite: targets and the variance split --------------------------------------------------------

def test_finite_targets_and_split_match_the_api(tmp_path, capsys):
    lam = np.arange(1, 31, dtype=float) ** -1.0
    lam /= lam.mean()
    S, b = np.diag(lam), np.linspace(2.0, 0.5, 30)
    np.save(tmp_path / "S.npy", S)
    np.save(tmp_path / "b.npy", b)
    code, out, err = _run(capsys, "finite", "--sigma", tmp_path / "S.npy", "--m", 60, "--n1", 40,
                          "--draws", 3,
                          "--teacher", "tanh", "--nonlinear-var", 0.05, "--nonlinear-var-test", 0.1,
                          "--target-cov", tmp_path / "b.npy", "--format", "json")
    assert code == 0, err
    res = json.loads(out)
    ref = rf.finite_size(S, S, m=60, n1=40, gamma=0.01, noise_var=NOISE_VAR_DEFAULT, draws=3, teacher="tanh",
                         nonlinear_var=0.05, nonlinear_var_test=0.1, target_cov=b)
    for k in ("error", "variance_w", "variance_noise_id", "variance_sampling", "variance_w_se"):
        assert res["finite_size"][k] == pytest.approx(getattr(ref, k), rel=1e-12), k
    assert (res["teacher"], res["nonlinear_var"], res["nonlinear_var_test"]) == ("tanh", 0.05, 0.1)
    lim = rf.asymptotics(rf.Spectrum.from_covariances(S, S, target_cov=np.diag(b)), phi=0.5, psi=0.75,
                         gamma=0.01, noise_var=NOISE_VAR_DEFAULT, teacher="tanh", nonlinear_var=0.05,
                         nonlinear_var_test=0.1)
    assert res["limit"]["error"] == pytest.approx(float(lim.error), rel=1e-12)
    terms = lim.variance_terms_id
    assert res["limit"]["variance_sampling_id"] == pytest.approx(float(terms.x + terms.wx), rel=1e-12)
    # the table names the split; a teacher with a mean is a one-line error
    code, out, err = _run(capsys, "finite", "--sigma", tmp_path / "S.npy", "--m", 60, "--n1", 40,
                          "--draws", 3)
    assert code == 0 and "variance_noise_id" in out and "variance_w" in out
    code, out, err = _run(capsys, "finite", "--sigma", tmp_path / "S.npy", "--m", 60, "--n1", 40,
                          "--teacher", "relu")
    assert code == 2 and out == "" and "non-zero Gaussian mean" in err and len(err.strip().splitlines()) == 1


def test_pool_without_generalized_is_refused_not_ignored(tmp_path, capsys):
    np.save(tmp_path / "S.npy", np.eye(8))
    code = main(["finite", "--sigma", str(tmp_path / "S.npy"), "--m", "16", "--n1", "8", "--draws", "3",
                 "--pool", "2000"])
    err = capsys.readouterr().err
    assert code == 2 and "pool is used only by equivalent='generalized'" in err and "Traceback" not in err


@pytest.mark.parametrize("port", ["99999999", "0", "80x"])
def test_app_port_out_of_range_is_a_one_line_usage_error(port, capsys):
    with pytest.raises(SystemExit) as info:
        main(["app", "--port", port])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid port" in err and "Traceback" not in err


def test_curve_csv_uses_plain_newlines(capsys):
    assert main(["curve", "--num", "3", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "\r" not in out and len(out.strip().split("\n")) == 4


def test_cli_activation_lists_match_the_criteria_the_app_uses():
    from rfshift.activations import _with_linear_part, _zero_mean
    from rfshift.cli import _TEACHERS

    assert set(_NO_LINEAR) == set(available_activations()) - set(_with_linear_part())
    assert tuple(_TEACHERS) == _zero_mean()
