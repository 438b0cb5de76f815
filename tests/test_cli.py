"""Command line (in-process through rfshift.cli.main, plus one `python -m rfshift` smoke run)."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import rfshift as rf
from rfshift.cli import main
from rfshift.io import spectrum_to_csv
from rfshift.shifts import make_shift


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_curve_csv_matches_engine(capsys):
    code, out, err = _run(capsys, "curve", "--format", "csv", "--sweep", "psi", "--start", "0.1",
                          "--stop", "2", "--num", "7", "--phi", "0.5", "--gamma", "0.01",
                          "--noise-var", "0.25", "--shift", "swap")
    assert code == 0 and err == ""
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 7
    assert list(rows[0]) == ["psi", "error", "bias", "variance", "error_id", "bias_id", "variance_id",
                             "kappa"]
    psi = np.array([float(r["psi"]) for r in rows])
    np.testing.assert_allclose(psi, np.linspace(0.1, 2, 7))
    res = rf.asymptotics(make_shift("swap"), phi=0.5, psi=psi, gamma=0.01, noise_var=0.25)
    for f in ("error", "bias", "variance", "error_id", "kappa"):
        np.testing.assert_allclose([float(r[f]) for r in rows], getattr(res, f), rtol=1e-15)


def test_curve_json_and_table(capsys):
    code, out, _ = _run(capsys, "curve", "--format", "json", "--sweep", "gamma", "--log", "--start",
                        "1e-4", "--stop", "1", "--num", "5", "--activation", "erf", "--shift", "scaling",
                        "--param", "c=3")
    assert code == 0
    doc = json.loads(out)
    assert doc["activation"] == "erf" and len(doc["rows"]) == 5
    g = [r["gamma"] for r in doc["rows"]]
    np.testing.assert_allclose(g, np.geomspace(1e-4, 1, 5))
    res = rf.asymptotics(make_shift("scaling", c=3.0), phi=0.5, psi=0.25, gamma=np.array(g), noise_var=0.1,
                         activation="erf")
    np.testing.assert_allclose([r["error"] for r in doc["rows"]], res.error, rtol=1e-15)

    code, out, _ = _run(capsys, "curve", "--num", "4", "--sweep", "phi", "--start", "0.2", "--stop", "3")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["phi", "error", "bias", "variance", "error_id", "bias_id", "variance_id",
                                "kappa"]
    assert len(lines) == 5
    assert float(lines[1].split()[0]) == pytest.approx(0.2)


def test_curve_interpolation_peak_reports_inf(capsys):
    code, out, _ = _run(capsys, "curve", "--format", "json", "--gamma", "0", "--phi", "0.5", "--start",
                        "0.5", "--stop", "0.5", "--num", "1")
    assert code == 0
    row = json.loads(out)["rows"][0]  # strict JSON: infinity is written as null with a flag
    assert row["error"] is None and row["interpolation_peak"] is True and math.isfinite(row["bias"])
    assert "Infinity" not in out


def test_curve_spectrum_file(tmp_path, capsys):
    spec = rf.Spectrum([3.0, 1.0, 0.2], [0.5, 1.0, 2.0], [0.2, 0.5, 0.3])
    p = tmp_path / "s.csv"
    p.write_text(spectrum_to_csv(spec))
    code, out, _ = _run(capsys, "curve", "--format", "csv", "--spectrum-file", str(p), "--num", "3",
                        "--activation", "tanh")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    res = rf.asymptotics(spec, phi=0.5, psi=np.array([float(r["psi"]) for r in rows]), gamma=0.01,
                         noise_var=0.1, activation="tanh")
    np.testing.assert_allclose([float(r["error"]) for r in rows], res.error, rtol=1e-15)


@pytest.mark.parametrize("argv, match", [
    (["curve", "--param", "high"], "NAME=VALUE"),
    (["curve", "--param", "high=abc"], "not a number"),
    (["curve", "--param", "nope=1"], "unknown parameter"),
    (["curve", "--num", "0"], "--num"),
    (["curve", "--log", "--start", "0"], "--log"),
    (["curve", "--activation", "sinc"], "unknown activation"),
    (["curve", "--activation", "quadratic"], "mu1"),
    (["curve", "--gamma", "-1"], "gamma"),
    (["curve", "--phi", "0"], "phi"),
    (["curve", "--noise-var", "nan"], "noise_var"),
    (["curve", "--sweep", "psi", "--start", "-1", "--stop", "1"], "psi"),
    (["curve", "--spectrum-file", "/nonexistent/spec.csv"], "no such file"),
    (["curve", "--shift", "swap", "--param", "low=-2"], "low"),
    (["info", "sinc"], "unknown activation"),
    (["info", "relu", "--v", "-1"], "v must be"),
])
def test_errors_exit_2_with_message(capsys, argv, match):
    code, _out, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith(f"rfshift {argv[0]}: error:")
    assert match in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["nope"], ["curve", "--format", "xml"], ["curve", "--num", "x"], [],
                                  ["curve", "--shift", "unknown"]])
def test_argparse_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_spectrum_file_error_exit_2(tmp_path, capsys):
    p = tmp_path / "bad.csv"
    p.write_text("lam,lam_star\n1,-3\n")
    code, _, err = _run(capsys, "curve", "--spectrum-file", str(p))
    assert code == 2 and ">= 0" in err


def test_info_prints_constants(capsys):
    code, out, _ = _run(capsys, "info", "gelu", "--v", "0.5", "2")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "activation: gelu"
    for line, v in zip(lines[2:], (0.5, 2.0), strict=True):
        vals = [float(x) for x in line.split()]
        c = rf.activation_constants("gelu", v)
        np.testing.assert_allclose(vals, [v, c.mu0, c.mu1, c.mu_perp2], rtol=1e-14)


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert rf.__version__ in capsys.readouterr().out


def test_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "rfshift", "info", "relu"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "activation: relu" in proc.stdout  # (error exits are covered in-process above)
