"""Streamlit app tests (streamlit.testing.v1.AppTest): every page renders with defaults, a widget change
changes a displayed number (checked against the library), bad uploads give an error message, never a
traceback."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

import rfshift as rf
from rfshift.shifts import make_shift

APP = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
PAGES = {
    "curves": "pages/1_Learning_curves.py",
    "order": "pages/2_Partial_order.py",
    "idood": "pages/3_ID_vs_OOD.py",
    "mc": "pages/4_Monte_Carlo_check.py",
    "formulas": "pages/5_Formulas.py",
}
TIMEOUT = 90  # seconds per script run; generous for a busy 2-core CI machine


def _fmt(v: float, digits: int = 5) -> str:
    return f"{float(v):.{digits}g}"


def open_page(page: str | None = None, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if page is not None:
        at.switch_page(PAGES[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# --- default render ---------------------------------------------------------------------------------


def test_home_renders_reference_number():
    at = open_page()
    assert not at.error
    # THEORY.md §10, R2: the swap shift at φ = 0.5, ψ = 0.25, γ = 0.01, σ² = 0.25, ReLU.
    assert metric(at, "OOD error") == "0.63961"
    assert metric(at, "ID error") == "0.49037"


@pytest.mark.parametrize("page", list(PAGES))
def test_page_default_render(page):
    at = open_page(page)
    assert not at.error, [e.value for e in at.error]
    assert at.title and at.title[0].value
    assert at.metric, "every page shows at least one number"


# --- a widget change changes a number, which matches the library ------------------------------------


def test_curves_noise_slider_changes_error():
    at = open_page("curves")
    spec = make_shift("power_law")
    kw = dict(phi=0.5, psi=0.25, gamma=0.0, activation="relu")
    assert metric(at, "OOD error") == _fmt(rf.asymptotics(spec, noise_var=0.1, **kw).error)
    at.slider(key="noise").set_value(0.5).run()
    no_traceback(at)
    assert metric(at, "OOD error") == _fmt(rf.asymptotics(spec, noise_var=0.5, **kw).error)
    assert metric(at, "OOD bias") == _fmt(rf.asymptotics(spec, noise_var=0.5, **kw).bias)


def test_curves_interpolation_peak_is_marked():
    at = open_page("curves")  # default γ = 0, N/n axis through 1
    captions = " ".join(c.value for c in at.caption)
    assert "interpolation peak at N/n = 1" in captions
    at.select_slider(key="gamma").set_value(0.01).run()
    no_traceback(at)
    assert "Red dashed line" not in " ".join(c.value for c in at.caption)


def test_curves_other_axes_and_variance_terms():
    at = open_page("curves")
    at.radio(key="axis").set_value("γ").run()
    no_traceback(at)
    at.radio(key="axis").set_value("n/d").run()
    at.toggle(key="terms").set_value(True).run()
    no_traceback(at)
    assert not at.error
    assert any("N/d = 4" in c.value or "n/d = 4" in c.value for c in at.caption)  # peak at n/d = N/d = 4


def test_curves_gamma_axis_shows_optimal_ridge():
    at = open_page("curves", query={"axis": "γ", "noise": "0.5"})
    opt = rf.optimal_ridge(make_shift("power_law"), phi=0.5, psi=0.25, noise_var=0.5, target="ood")
    assert metric(at, "Optimal γ for OOD error") == _fmt(opt.gamma_ood, 4)
    assert metric(at, "Optimal γ for ID error") == _fmt(opt.gamma_id, 4)
    assert metric(at, "OOD cost of tuning γ on ID data") == _fmt(opt.regret, 4)
    assert float(metric(at, "OOD cost of tuning γ on ID data")) >= 0


def test_nd_axis_marks_the_peak_even_when_one_over_psi_does_not_round_trip():
    # n/d = 0.03, N/n = 300: ψ = 1/9, and 1/(1/ψ) != ψ in floating point
    psi = 1 / 0.03 / 300
    assert 1 / (1 / psi) != psi
    at = open_page("curves", query={"axis": "n/d", "nd": "0.03", "Nn": "300"})
    assert not at.error
    assert any("interpolation peak at n/d = 9" in c.value for c in at.caption), [c.value for c in at.caption]


def test_query_string_sets_widgets():
    at = open_page("curves", query={"noise": "0.5", "gamma": "0.01", "shift": "swap"})
    spec = make_shift("swap")
    ref = rf.asymptotics(spec, phi=0.5, psi=0.25, gamma=0.01, noise_var=0.5, activation="relu")
    assert metric(at, "OOD error") == _fmt(ref.error)


@pytest.mark.parametrize("page", ["curves", "order", "idood", "mc", "formulas"])
def test_share_link_round_trips(page):
    """The link in "Share these settings" reproduces the view: change settings, follow the link in a
    fresh session, compare every displayed number."""
    at = open_page(page)
    changes = {
        "curves": [
            ("slider", "noise", 0.7),
            ("select_slider", "gamma", 0.02),
            ("selectbox", "shift", "tilt"),
        ],
        "order": [("slider", "noise", 1.0), ("select_slider", "Nn", 4.0), ("toggle", "b_id", True)],
        "idood": [
            ("select_slider", "nd", 4.0),
            ("select_slider", "gamma", 0.001),
            ("multiselect", "shifts", ["tilt", "scaling"]),
        ],
        "mc": [("select_slider", "n0", 64), ("multiselect", "mc_sizes", [1.5, 3.0]), ("slider", "trials", 4)],
        "formulas": [
            ("selectbox", "act", "erf"),
            ("selectbox", "shift", "rotation"),
            ("slider", "rotation_angle", 30.0),
        ],
    }[page]
    for kind, key, value in changes:
        getattr(at, kind)(key=key).set_value(value).run()
        no_traceback(at)
    before = [(m.label, m.value) for m in at.metric]
    link = at.code[-1].value
    assert link.startswith("?")
    from urllib.parse import parse_qs

    query = {k: (v if len(v) > 1 else v[0]) for k, v in parse_qs(link[1:]).items()}
    fresh = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    fresh.run()
    for k, v in query.items():
        fresh.query_params[k] = v
    fresh.switch_page(PAGES[page]).run()
    no_traceback(fresh)
    assert [(m.label, m.value) for m in fresh.metric] == before


def test_order_noise_changes_difference():
    at = open_page("order")
    a, b = make_shift("rotation"), make_shift("rotation", angle=0.0)
    kw = dict(phi=0.5, psi=0.25, gamma=0.01, activation="relu")

    def diff(nv):
        return rf.asymptotics(a, noise_var=nv, **kw).error - rf.asymptotics(b, noise_var=nv, **kw).error

    assert metric(at, "E_A − E_B") == _fmt(diff(3.0))
    at.slider(key="noise").set_value(0.1).run()
    no_traceback(at)
    assert metric(at, "E_A − E_B") == _fmt(diff(0.1))
    assert metric(at, "Certified order") == "B better"


def test_order_mismatched_training_spectra_is_an_error_not_a_traceback():
    at = open_page("order")
    at.selectbox(key="b_shift").set_value("tilt").run()  # 10 atoms vs 2
    no_traceback(at)
    assert any("share the training spectrum" in e.value for e in at.error)


def test_idood_phi_changes_slope():
    at = open_page("idood")
    spec = make_shift("power_law")
    for nd in (2.0, 4.0):
        if nd != 2.0:
            at.select_slider(key="nd").set_value(nd).run()
            no_traceback(at)
        rel = rf.linear_relation(spec, phi=1 / nd, noise_var=0.1)
        assert metric(at, "Slope (power_law)") == _fmt(rel.slope)
        assert metric(at, "Intercept (power_law)") == _fmt(rel.intercept)
    # exact relation at γ = 0: the departure of the overparameterised points is rounding only
    assert float(metric(at, "Max |deviation|, N > n (power_law)")) < 1e-9


def test_mc_page_numbers_follow_n0():
    at = open_page("mc")
    assert metric(at, "Training samples n") == "256"  # n = d · (n/d) = 128 · 2
    at.select_slider(key="n0").set_value(64).run()
    no_traceback(at)
    assert metric(at, "Training samples n") == "128"
    assert metric(at, "Features N") == "64, 256, 640"  # N = n · N/n for N/n = 0.5, 2, 5


def test_formulas_page_kappa_follows_settings():
    at = open_page("formulas")
    spec = make_shift("power_law")
    for Nn in (2.0, 5.0):
        if Nn != 2.0:
            at.select_slider(key="Nn").set_value(Nn).run()
            no_traceback(at)
        ref = rf.asymptotics(spec, phi=0.5, psi=0.5 / Nn, gamma=0.01, noise_var=0.1)
        assert metric(at, "κ") == _fmt(ref.kappa, 8)
    assert at.latex, "the equations are rendered"


# --- uploads ----------------------------------------------------------------------------------------


def _upload(page: str, name: str, data: bytes, mime: str) -> AppTest:
    at = open_page(page)
    at.selectbox(key="shift").set_value("upload").run()
    no_traceback(at)
    at.file_uploader(key="upload_file").set_value((name, data, mime)).run()
    no_traceback(at)
    return at


@pytest.mark.parametrize(
    ("name", "data", "expect"),
    [
        ("bad.csv", b"x,y\n1,2\n", "header must name the columns"),
        ("neg.csv", b"lam,lam_star\n1,-2\n", "lam_star"),
        ("text.csv", b"lam,lam_star\n1,abc\n", "not a number"),
    ],
)
def test_bad_csv_upload_shows_error(name, data, expect):
    at = _upload("curves", name, data, "text/csv")
    assert at.error, "a bad file must give an error message"
    assert any(expect in e.value for e in at.error), [e.value for e in at.error]
    assert not at.metric  # nothing computed from a bad file


@pytest.mark.parametrize(("page", "prefix"), [("order", "a_"), ("order", "b_"), ("mc", ""), ("formulas", "")])
def test_bad_upload_on_other_pages(page, prefix):
    at = open_page(page)
    at.selectbox(key=f"{prefix}shift").set_value("upload").run()
    no_traceback(at)
    at.file_uploader(key=f"{prefix}upload_file").set_value(
        ("bad.csv", b"lam,lam_star\n1,-2\n", "text/csv")
    ).run()
    no_traceback(at)
    assert any("lam_star" in e.value for e in at.error), [e.value for e in at.error]


@pytest.mark.parametrize("page", ["curves", "order", "formulas"])
def test_activation_without_linear_signal_is_an_error_message(page):
    at = open_page(page)
    at.selectbox(key="act").set_value("quadratic").run()
    no_traceback(at)
    assert any("mu1" in e.value for e in at.error), [e.value for e in at.error]


def test_pickled_npy_upload_is_refused():
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    at = _upload("formulas", "evil.npy", buf.getvalue(), "application/octet-stream")
    assert any("pickle" in e.value.lower() for e in at.error), [e.value for e in at.error]


def test_good_csv_upload_is_used():
    csv = b"lam,lam_star,weight\n1.5,0.5,1\n0.5,1.5,1\n"
    at = _upload("curves", "swap.csv", csv, "text/csv")
    assert not at.error
    ref = rf.asymptotics(rf.Spectrum([1.5, 0.5], [0.5, 1.5]), phi=0.5, psi=0.25, gamma=0.0, noise_var=0.1)
    assert metric(at, "OOD error") == _fmt(ref.error)


# --- Monte Carlo page without JAX ---------------------------------------------------------------------


def test_mc_page_disabled_without_jax(monkeypatch):
    for mod in list(sys.modules):
        if mod == "jax" or mod.startswith(("jax.", "rfshift.montecarlo")):
            monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "jax", None)  # `import jax` now raises ImportError
    at = open_page("mc")
    assert any("JAX is not importable" in w.value for w in at.warning)
    assert at.button(key="mc_run_disabled").disabled
    assert not at.error


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX not installed")
def test_mc_page_runs_a_tiny_simulation():
    at = open_page("mc")
    at.multiselect(key="mc_sizes").set_value([2.0])
    at.select_slider(key="n0").set_value(16)
    at.slider(key="trials").set_value(2).run()
    at.button(key="mc_run").click().run()
    no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    zmax = float(metric(at, "max |z|"))
    assert np.isfinite(zmax)
