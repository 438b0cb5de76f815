"""Streamlit app tests (streamlit.testing.v1.AppTest): every page renders with defaults, a widget change
changes a displayed number (checked against the library), settings carry from page to page, the URL
reproduces a page, every chart names its colours and markers, bad uploads give an error message, never
a traceback."""

from __future__ import annotations

import importlib.util
import io
import json
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
    "disagree": "pages/6_Disagreement.py",
}
HAS_DISAGREEMENT = hasattr(rf, "disagreement_relation") and hasattr(rf, "ood_error_estimate")
needs_disagreement = pytest.mark.skipif(
    not HAS_DISAGREEMENT, reason="this rfshift has no disagreement API (rf.disagreement_relation)"
)

HAS_TARGETS = hasattr(__import__("rfshift.shifts", fromlist=["x"]), "TARGETS") and hasattr(
    rf.Spectrum, "with_target"
)
needs_targets = pytest.mark.skipif(not HAS_TARGETS, reason="this rfshift has no structured targets")
needs_finite = pytest.mark.skipif(not hasattr(rf, "finite_size"), reason="this rfshift has no rf.finite_size")


def _pages(*, skip: tuple[str, ...] = ()) -> list:
    """Page names for parametrize; pages whose library API is missing are skipped, saying why."""
    marks = {"disagree": needs_disagreement}
    return [pytest.param(p, marks=marks[p]) if p in marks else p for p in PAGES if p not in skip]


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


@pytest.mark.parametrize("page", _pages())
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


def test_pickers_offer_only_what_the_engine_accepts():
    """Activations with μ1 ≡ 0 and teachers with μ0 ≠ 0 are refused by the engine, so they are not offered
    (the lists come from the engine's own criteria, rfshift.activations); asking by URL is named, ignored."""
    from rfshift.activations import _with_linear_part, _zero_mean

    assert set(_zero_mean()) == {"erf", "hardtanh", "linear", "tanh"}
    assert set(rf.available_activations()) - set(_with_linear_part()) == {"abs", "quadratic"}
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    for name in rf.available_activations():  # the lists agree with what the engine does
        ok_teacher = ok_act = True
        try:
            rf.asymptotics(spec, phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1, teacher=name)
        except ValueError as exc:
            assert "non-zero Gaussian mean" in str(exc), exc
            ok_teacher = False
        try:
            rf.asymptotics(spec, phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1, activation=name)
        except ValueError:
            ok_act = False
        assert ok_teacher == (name in _zero_mean()), name
        assert ok_act == (name in _with_linear_part()), name
    at = open_page("curves", query={"act": "quadratic", "teacher": "relu"})
    assert not at.error, [e.value for e in at.error]
    assert "abs" not in at.selectbox(key="act").options and "quadratic" not in at.selectbox(key="act").options
    teachers = ["none (linear target)", "erf", "hardtanh", "linear", "tanh"]
    assert at.selectbox(key="teacher").options == teachers
    assert "μ0" in at.selectbox(key="teacher").help and "relu" in at.selectbox(key="teacher").help
    assert "quadratic" in at.selectbox(key="act").help
    warned = " ".join(w.value for w in at.warning)
    assert "act=quadratic" in warned and "teacher=relu" in warned
    at.switch_page(PAGES["mc"]).run()
    no_traceback(at)
    assert at.selectbox(key="mc_teacher").options == teachers


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


@pytest.mark.slow
@needs_targets
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX not installed")
def test_mc_page_runs_a_tiny_simulation_with_a_power_law_target():
    """The page draws β ~ N(0, B) for the picked target and compares with rf.asymptotics at the same
    Spectrum (with its target_power), not at the isotropic one."""
    from rfshift.shifts import make_target

    at = open_page("mc")
    at.selectbox(key="target").set_value("power_law").run()
    at.slider(key="target_power_law_alpha").set_value(2.0).run()
    at.multiselect(key="mc_sizes").set_value([2.0])
    at.select_slider(key="n0").set_value(16)
    at.slider(key="trials").set_value(2).run()
    at.button(key="mc_run").click().run()
    no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    assert np.isfinite(float(metric(at, "max |z|")))
    res = next(d.value for d in at.dataframe if "theory" in d.value.columns)
    theory = dict(zip(res["quantity"], res["theory"], strict=True))
    spec = make_target(make_shift("swap"), "power_law", alpha=2.0)  # 2 atoms of weight 1/2: exact at d = 16
    ref = rf.asymptotics(spec, phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1)
    iso = rf.asymptotics(make_shift("swap"), phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1)
    assert abs(ref.error - iso.error) > 1e-3 * iso.error  # the target matters here
    for q in ("error", "bias", "error_id", "bias_id"):
        assert theory[q] == pytest.approx(float(getattr(ref, q)), rel=1e-9), q
    assert all(np.isfinite(res["mc"])) and all(res["se"] > 0)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX not installed")
def test_mc_page_runs_a_tiny_simulation_with_a_teacher():
    """A single-index teacher reaches both the simulator and the limit (rf.asymptotics(teacher=...))."""
    at = open_page("mc")
    at.selectbox(key="mc_teacher").set_value("tanh").run()
    at.multiselect(key="mc_sizes").set_value([2.0])
    at.select_slider(key="n0").set_value(16)
    at.slider(key="trials").set_value(2).run()
    at.button(key="mc_run").click().run()
    no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    res = next(d.value for d in at.dataframe if "theory" in d.value.columns)
    theory = dict(zip(res["quantity"], res["theory"], strict=True))
    spec = make_shift("swap")
    ref = rf.asymptotics(spec, phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1, teacher="tanh")
    lin = rf.asymptotics(spec, phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1)
    assert abs(ref.error - lin.error) > 1e-3 * lin.error  # the teacher matters here
    for q in ("error", "error_id"):
        assert theory[q] == pytest.approx(float(getattr(ref, q)), rel=1e-9), q
    assert np.isfinite(float(metric(at, "max |z|")))
    assert all(np.isfinite(res["mc"])) and all(res["se"] > 0)


# --- settings carry between pages; the URL reproduces a page ----------------------------------------


def _values(at: AppTest, keys: dict[str, str]) -> dict[str, object]:
    return {k: getattr(at, kind)(key=k).value for k, kind in keys.items()}


def test_settings_carry_to_the_next_page():
    at = open_page("curves")
    at.selectbox(key="shift").set_value("tilt").run()
    at.slider(key="tilt_tau").set_value(2.0).run()
    at.selectbox(key="act").set_value("erf").run()
    at.slider(key="noise").set_value(0.7).run()
    at.select_slider(key="nd").set_value(4.0).run()
    at.select_slider(key="Nn").set_value(5.0).run()
    at.select_slider(key="gamma").set_value(0.02).run()
    no_traceback(at)
    chosen = dict(shift="tilt", tilt_tau=2.0, act="erf", noise=0.7, nd=4.0, Nn=5.0, gamma=0.02)
    kinds = {
        "shift": "selectbox",
        "tilt_tau": "slider",
        "act": "selectbox",
        "noise": "slider",
        "nd": "select_slider",
        "Nn": "select_slider",
        "gamma": "select_slider",
    }
    at.switch_page(PAGES["formulas"]).run()
    no_traceback(at)
    assert _values(at, kinds) == chosen
    spec = make_shift("tilt", tau=2.0)
    ref = rf.asymptotics(spec, phi=0.25, psi=0.05, gamma=0.02, noise_var=0.7, activation="erf")
    assert metric(at, "κ") == _fmt(ref.kappa, 8)
    # the address bar now holds the carried settings (they differ from this page's defaults)
    assert at.query_params["noise"] == "0.7" and at.query_params["shift"] == "tilt"
    # the partial-order page: shift A is the carried shift; σ² = 0.7 replaces its own default of 3
    at.switch_page(PAGES["order"]).run()
    no_traceback(at)
    assert at.selectbox(key="a_shift").value == "tilt"
    assert at.slider(key="a_tilt_tau").value == 2.0
    assert at.slider(key="noise").value == 0.7
    assert at.selectbox(key="b_shift").value == "tilt"  # B starts from A's family, so they compare
    assert not at.error, [e.value for e in at.error]
    # and back: a change made on the order page carries too
    at.slider(key="noise").set_value(1.5).run()
    at.switch_page(PAGES["curves"]).run()
    no_traceback(at)
    assert at.slider(key="noise").value == 1.5
    assert metric(at, "OOD error") == _fmt(
        rf.asymptotics(spec, phi=0.25, psi=0.05, gamma=0.02, noise_var=1.5, activation="erf").error
    )


def test_untouched_settings_do_not_override_other_pages_defaults():
    at = open_page("curves")  # σ² = 0.1 and γ = 0 are this page's defaults, not choices
    at.switch_page(PAGES["order"]).run()
    no_traceback(at)
    assert at.slider(key="noise").value == 3.0  # the order page's own default
    assert at.select_slider(key="gamma").value == 0.01
    assert not at.query_params.get("noise")


@pytest.mark.parametrize("page", ["curves", "order", "idood", "formulas"])
def test_address_bar_reproduces_the_page(page):
    """The query string the page writes (the address bar) reproduces every number in a fresh session."""
    at = open_page(page)
    changes = {
        "curves": [("slider", "noise", 0.35), ("selectbox", "shift", "swap"), ("slider", "swap_high", 2.0)],
        "order": [("select_slider", "gamma", 0.05), ("slider", "b_rotation_angle", 10.0)],
        "idood": [("multiselect", "shifts", ["swap", "scaling"]), ("select_slider", "xr_Nn", (1.5, 100.0))],
        "formulas": [("selectbox", "act", "tanh"), ("select_slider", "Nn", 8.0)],
    }[page]
    for kind, key, value in changes:
        getattr(at, kind)(key=key).set_value(value).run()
        no_traceback(at)
    before = [(m.label, m.value) for m in at.metric]
    url = dict(at.query_params)
    assert url, "the page writes its settings to the URL"
    fresh = open_page(page, query=url)
    assert [(m.label, m.value) for m in fresh.metric] == before
    assert dict(fresh.query_params) == url


def test_url_wins_over_carried_settings():
    at = open_page("curves")
    at.slider(key="noise").set_value(0.7).run()
    at.query_params.clear()
    at.query_params["noise"] = "2"  # a link followed inside the session
    at.switch_page(PAGES["formulas"]).run()
    no_traceback(at)
    assert at.slider(key="noise").value == 2.0


def test_bad_url_value_is_named_and_ignored():
    at = open_page("curves", query={"noise": "abc", "act": "nonsense", "nd": "0.3333"})
    assert not at.error
    warned = " ".join(w.value for w in at.warning)
    assert "noise=abc" in warned and "act=nonsense" in warned and "nd=0.3333" in warned
    assert at.slider(key="noise").value == 0.1 and at.selectbox(key="act").value == "relu"


# --- robustness: both notions ---------------------------------------------------------------------


def test_robustness_shows_gap_shrinking_and_ratio_growing():
    # issue 12's example: swap Spectrum([1.5, .5], [.5, 1.5]), φ = 0.5, γ = 0, σ² = 0.1, N/n 1.5 -> 100
    at = open_page("idood", query={"shifts": ["swap", "tilt"], "xr_Nn": ["1.5", "100"]})
    cur = rf.robustness_curve(make_shift("swap"), phi=0.5, features_per_sample=[1.5, 100.0], noise_var=0.1)
    assert metric(at, "OOD − ID gap (swap)") == f"{cur.gap[0]:.3g} → {cur.gap[1]:.3g}" == "0.182 → 0.0721"
    assert metric(at, "OOD / ID ratio (swap)") == f"{cur.ratio[0]:.3g} → {cur.ratio[1]:.3g}" == "1.25 → 1.63"
    text = " ".join(m.value for m in at.markdown)
    assert "shrinks" in text and "moves away from 1" in text and "slope + intercept / E_ID" in text


def test_curves_page_shows_gap_and_ratio():
    at = open_page("curves")
    res = rf.asymptotics(make_shift("power_law"), phi=0.5, psi=0.25, gamma=0.0, noise_var=0.1)
    assert metric(at, "OOD − ID gap") == _fmt(res.error - res.error_id, 4)
    assert metric(at, "OOD / ID") == _fmt(res.error / res.error_id, 4)


# --- every chart names its colours and markers ----------------------------------------------------


def _encodings(spec: dict) -> list[tuple[str, dict]]:
    out = []
    for channel, enc in (spec.get("encoding") or {}).items():
        out.append((channel, enc))
    for sub in spec.get("layer", []) + spec.get("hconcat", []) + spec.get("vconcat", []):
        out.extend(_encodings(sub))
    return out


@pytest.mark.parametrize("page", _pages(skip=("formulas",)))
def test_every_chart_names_its_colours_and_markers(page):
    at = open_page(page, query={"terms": "true"} if page == "curves" else None)
    charts = at.get("vega_lite_chart")
    assert charts, "the page draws charts"
    for chart in charts:
        spec = json.loads(chart.proto.spec)
        for channel, enc in _encodings(spec):
            if channel in ("color", "fill", "shape", "strokeDash") and "field" in enc:
                assert enc.get("legend", {}) is not None, (page, channel, enc.get("field"))


# --- Disagreement & ensembles page ----------------------------------------------------------------


@needs_disagreement
def test_disagreement_page_numbers_match_the_library():
    at = open_page("disagree")
    spec = make_shift("power_law")
    kw = dict(phi=0.5, gamma=0.0, noise_var=0.1, activation="relu")
    res = rf.asymptotics(spec, psi=0.25, **kw)
    assert metric(at, "D_OOD (shared_data)") == _fmt(res.disagreement.shared_data)
    assert metric(at, "D_ID (shared_data)") == _fmt(res.disagreement_id.shared_data)
    assert metric(at, "Training error") == _fmt(res.training_error)
    assert any(f"E_ID + σ² = {_fmt(res.error_id + 0.1)}" in c.value for c in at.caption)
    rel = rf.disagreement_relation(spec, phi=0.5, noise_var=0.1, activation="relu")
    assert metric(at, "Disagreement line: slope") == _fmt(rel.slope) == metric(at, "Error line: slope")
    est = rf.ood_error_estimate(spec, psi=0.25, **kw)
    assert metric(at, "Estimate (ratio)") == _fmt(est.estimate)
    assert metric(at, "Bias (ratio)") == _fmt(est.bias, 3)
    assert metric(at, "True OOD error") == _fmt(res.error)
    assert metric(at, "OOD error, K = 1") == _fmt(res.error)
    assert metric(at, "OOD error, K = ∞") == _fmt(res.ensemble(np.inf).error)
    assert metric(at, "OOD error, K = 32") == _fmt(res.ensemble(32).error)
    # another pairing changes the disagreement shown
    at.selectbox(key="kind").set_value("independent").run()
    no_traceback(at)
    assert metric(at, "D_OOD (independent)") == _fmt(res.disagreement.independent)
    assert metric(at, "D_OOD (independent)") == _fmt(2 * res.variance)


@needs_disagreement
def test_disagreement_page_degenerate_settings_are_messages():
    at = open_page("disagree", query={"act": "linear", "shift": "swap"})  # κ = ∞: no lines, no estimate
    assert not at.error, [e.value for e in at.error]
    assert any("No ID/OOD lines" in i.value for i in at.info)
    at = open_page("disagree", query={"Nn": "1"})  # the interpolation peak
    assert any("interpolation peak" in w.value for w in at.warning)
    assert metric(at, "OOD error, K = ∞") != "∞"


@needs_disagreement
def test_disagreement_page_carries_settings_and_round_trips():
    at = open_page("curves")
    at.slider(key="noise").set_value(0.5).run()
    at.selectbox(key="shift").set_value("swap").run()
    at.switch_page(PAGES["disagree"]).run()
    no_traceback(at)
    assert at.slider(key="noise").value == 0.5 and at.selectbox(key="shift").value == "swap"
    at.select_slider(key="kmax").set_value(8).run()
    before = [(m.label, m.value) for m in at.metric]
    fresh = open_page("disagree", query=dict(at.query_params))
    assert [(m.label, m.value) for m in fresh.metric] == before


# --- the target picker ----------------------------------------------------------------------------


@needs_targets
@pytest.mark.parametrize("page", _pages())
def test_target_picker_on_every_page(page):
    at = open_page(page)
    assert at.selectbox(key="target").value == "isotropic"
    options = at.selectbox(key="target").options
    for name in ("isotropic", "power_law", "aligned", "against"):
        assert any(o.startswith(name) for o in options), options
    assert any(o.startswith("upload") for o in options) == (page != "idood")


@needs_targets
@pytest.mark.parametrize(
    ("name", "params"), [("power_law", {"alpha": 2.0}), ("aligned", {"tau": 1.5}), ("against", {"tau": 1.0})]
)
def test_target_family_changes_the_error_to_the_library_value(name, params):
    from rfshift.shifts import make_target

    at = open_page("curves")
    iso = metric(at, "OOD error")
    at.selectbox(key="target").set_value(name).run()
    for p, v in params.items():
        at.slider(key=f"target_{name}_{p}").set_value(v).run()
    no_traceback(at)
    spec = make_target(make_shift("power_law"), name, **params)
    ref = rf.asymptotics(spec, phi=0.5, psi=0.25, gamma=0.0, noise_var=0.1)
    assert metric(at, "OOD error") == _fmt(ref.error) != iso
    assert metric(at, "OOD bias") == _fmt(ref.bias)
    # the explanation shows the target power per direction, named in a legend
    assert any("target power b" in json.dumps(json.loads(c.proto.spec)) for c in at.get("vega_lite_chart"))


@needs_targets
def test_target_carries_and_applies_to_both_shifts_of_the_order_page():
    from rfshift.shifts import make_target

    at = open_page("curves")
    at.selectbox(key="shift").set_value("rotation").run()
    at.selectbox(key="target").set_value("aligned").run()
    at.switch_page(PAGES["order"]).run()
    no_traceback(at)
    assert at.selectbox(key="target").value == "aligned"
    a = make_target(make_shift("rotation"), "aligned", tau=1.0)
    b = make_shift("rotation", angle=0.0).with_target(a.target_power)
    kw = dict(phi=0.5, psi=0.25, gamma=0.01, noise_var=3.0, activation="relu")
    assert metric(at, "OOD error, A") == _fmt(rf.asymptotics(a, **kw).error)
    assert metric(at, "OOD error, B") == _fmt(rf.asymptotics(b, **kw).error)


@needs_targets
def test_target_upload_is_used_and_bad_files_are_messages():
    at = open_page("formulas")
    at.selectbox(key="shift").set_value("swap").run()
    at.selectbox(key="target").set_value("upload").run()
    no_traceback(at)
    at.file_uploader(key="target_file").set_value(("b.csv", b"target_power\n2\n0\n", "text/csv")).run()
    no_traceback(at)
    ref = rf.asymptotics(
        make_shift("swap").with_target([2.0, 0.0]), phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1
    )
    assert metric(at, "OOD error") == _fmt(ref.error, 8)
    for data, expect in (
        (b"target_power\n1\n", "2 atoms"),
        (b"target_power\n1\nx\n", "not a number"),
        (b"lam\n1\n2\n", "header target_power"),
        (b"target_power\n-1\n1\n", "target_power"),
    ):
        at.file_uploader(key="target_file").set_value(("bad.csv", data, "text/csv")).run()
        no_traceback(at)
        assert any(expect in e.value for e in at.error), (expect, [e.value for e in at.error])


def test_upload_with_a_weights_column_uses_the_weights():
    # issue 12, fault 3: lam,lam_star,weights with weights 1, 2, 1 must not load as uniform
    csv = b"lam,lam_star,weights\n2,0.5,1\n1,1,2\n0.5,2,1\n"
    at = _upload("curves", "w.csv", csv, "text/csv")
    at.select_slider(key="gamma").set_value(0.01).run()
    no_traceback(at)
    kw = dict(phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1)
    ref = rf.asymptotics(rf.Spectrum([2, 1, 0.5], [0.5, 1, 2], [1, 2, 1]), **kw)
    uniform = rf.asymptotics(rf.Spectrum([2, 1, 0.5], [0.5, 1, 2]), **kw)
    assert metric(at, "OOD error") == _fmt(ref.error) != _fmt(uniform.error)
    # and the upload carries to the next page
    at.switch_page(PAGES["formulas"]).run()
    no_traceback(at)
    assert at.selectbox(key="shift").value == "upload"
    assert metric(at, "OOD error") == _fmt(ref.error, 8)


# --- learning curves at finite sizes ----------------------------------------------------------------


@needs_finite
def test_curves_at_these_sizes_match_rf_finite_size():
    q = {"mode": "at these sizes", "shift": "swap", "fs_d": "16", "fs_points": "2", "fs_draws": "3",
         "xr_Nn": ["0.5", "2"], "gamma": "0.01"}
    at = open_page("curves", query=q)
    assert any("d = 16; n = 32, 32; N = 16, 64" in i.value for i in at.info)
    at.button(key="fs_run").click().run()
    no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    S, S_star = np.diag([1.5] * 8 + [0.5] * 8), np.diag([0.5] * 8 + [1.5] * 8)  # swap at d = 16
    for i, n1 in enumerate((16, 64)):
        ref = rf.finite_size(S, S_star, m=32, n1=n1, gamma=0.01, noise_var=0.1, draws=3, seed=0)
        assert table["error_finite"].iloc[i] == pytest.approx(ref.error, rel=1e-12)
        assert table["error_id_finite_se"].iloc[i] == pytest.approx(ref.error_id_se, rel=1e-12)
        lim = rf.asymptotics(rf.Spectrum([1.5, 0.5], [0.5, 1.5]), phi=0.5, psi=0.5 / [0.5, 2][i], gamma=0.01,
                             noise_var=0.1)
        assert table["error_limit"].iloc[i] == pytest.approx(lim.error, rel=1e-12)
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert any("points: at these sizes" in json.dumps(c) for c in charts)


@needs_finite
def test_uploaded_covariances_are_used_at_their_own_size():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((12, 12))
    S = A @ A.T / 12 + 0.1 * np.eye(12)
    S_star = np.diag(np.linspace(0.5, 1.5, 12))
    buf = io.BytesIO()
    np.save(buf, np.stack([S, S_star]))
    at = _upload("curves", "pair.npy", buf.getvalue(), "application/octet-stream")
    at.radio(key="mode").set_value("at these sizes").run()
    no_traceback(at)
    assert any("own size, d = 12" in c.value for c in at.sidebar.caption)
    assert any("d = 12; n = 24" in i.value for i in at.info), [i.value for i in at.info]


@needs_targets
def test_spectrum_file_with_a_target_column_offers_it_first():
    csv = b"lam,lam_star,weight,target_power\n1.5,0.5,1,2\n0.5,1.5,1,0\n"
    at = _upload("curves", "t.csv", csv, "text/csv")
    assert at.selectbox(key="target").value == "file"
    ref = rf.asymptotics(rf.Spectrum([1.5, 0.5], [0.5, 1.5], target_power=[2.0, 0.0]), phi=0.5, psi=0.25,
                         gamma=0.0, noise_var=0.1)
    assert metric(at, "OOD error") == _fmt(ref.error)
    at.selectbox(key="target").set_value("isotropic").run()
    iso = rf.asymptotics(rf.Spectrum([1.5, 0.5], [0.5, 1.5]), phi=0.5, psi=0.25, gamma=0.0, noise_var=0.1)
    assert metric(at, "OOD error") == _fmt(iso.error)


@needs_targets
def test_monte_carlo_page_never_compares_a_target_with_a_simulator_that_ignores_it():
    import inspect

    mc = pytest.importorskip("rfshift.montecarlo")
    at = open_page("mc", query={"target": "power_law"})
    if "target_power" in inspect.signature(mc.simulate).parameters:
        assert not at.error
    else:
        assert any("does not draw structured targets" in e.value for e in at.error)


@needs_finite
def test_curves_at_these_sizes_with_a_teacher_and_the_variance_split():
    q = {"mode": "at these sizes", "shift": "swap", "fs_d": "16", "fs_points": "2", "fs_draws": "3",
         "xr_Nn": ["0.5", "2"], "gamma": "0.01", "teacher": "tanh", "nlvar": "0.1"}
    at = open_page("curves", query=q)
    lim = rf.asymptotics(rf.Spectrum([1.5, 0.5], [0.5, 1.5]), phi=0.5, psi=0.25, gamma=0.01, noise_var=0.1,
                         teacher="tanh", nonlinear_var=0.1)
    assert metric(at, "OOD error") == _fmt(lim.error)
    at.button(key="fs_run").click().run()
    no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    S, S_star = np.diag([1.5] * 8 + [0.5] * 8), np.diag([0.5] * 8 + [1.5] * 8)
    ref = rf.finite_size(S, S_star, m=32, n1=64, gamma=0.01, noise_var=0.1, draws=3, seed=0, teacher="tanh",
                         nonlinear_var=0.1)
    assert table["error_finite"].iloc[1] == pytest.approx(ref.error, rel=1e-12)
    for k in ("variance_w", "variance_noise", "variance_sampling_id"):
        assert table[f"{k}_finite"].iloc[1] == pytest.approx(getattr(ref, k), rel=1e-12)
    assert table["variance_w_limit"].iloc[1] == pytest.approx(float(lim.variance_terms.w), rel=1e-12)
    # the target explanation names the label model computed, and the "press the button" box is gone
    text = " ".join(m.value for m in at.markdown)
    assert "f*(βᵀx/√d) with teacher f* = tanh + g(x)" in text and "σ_g² = 0.1" in text
    assert not any("Press the button" in i.value for i in at.info), [i.value for i in at.info]
    assert any("Computed" in i.value for i in at.info)


@needs_finite
def test_curves_at_these_sizes_with_the_generalized_equivalent():
    q = {"mode": "at these sizes", "shift": "swap", "fs_d": "16", "fs_points": "2", "fs_draws": "3",
         "xr_Nn": ["0.5", "2"], "gamma": "0.01", "teacher": "tanh", "nlvar": "0.1",
         "fs_equivalent": "generalized (accurate on concentrated spectra, slower)", "fs_pool": "1000"}
    at = open_page("curves", query=q)
    no_traceback(at)
    info = [i.value for i in at.info]
    assert any("generalized equivalent on a pool of 1000" in v for v in info), info
    assert any("pool of 1000 inputs" in c.value for c in at.sidebar.caption)
    at.button(key="fs_run").click().run()
    no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    S, S_star = np.diag([1.5] * 8 + [0.5] * 8), np.diag([0.5] * 8 + [1.5] * 8)
    kw = dict(m=32, n1=64, gamma=0.01, noise_var=0.1, draws=3, seed=0, teacher="tanh", nonlinear_var=0.1)
    ref = rf.finite_size(S, S_star, equivalent="generalized", pool=1000, **kw)
    gauss = rf.finite_size(S, S_star, **kw)
    assert table["error_finite"].iloc[1] == pytest.approx(ref.error, rel=1e-12)
    assert table["variance_noise_finite"].iloc[1] == pytest.approx(ref.variance_noise, rel=1e-12)
    assert abs(ref.error - gauss.error) > 1e-6 * gauss.error  # the option changes the numbers
    # back to the default: the Gaussian equivalent's numbers
    at.radio(key="fs_equivalent").set_value("Gaussian (fast)").run()
    at.button(key="fs_run").click().run()
    no_traceback(at)
    assert at.dataframe[0].value["error_finite"].iloc[1] == pytest.approx(gauss.error, rel=1e-12)


@needs_finite
def test_at_these_sizes_metrics_leave_out_the_interpolation_peak():
    # γ = 0 with a size at N = n (d = 16, n = 32, N = 32 and 64): the peak row is +∞, the metrics skip it
    q = {"mode": "at these sizes", "shift": "swap", "fs_d": "16", "fs_points": "2", "fs_draws": "3",
         "xr_Nn": ["1", "2"], "gamma": "0"}
    at = open_page("curves", query=q)
    assert any("N = 32, 64" in i.value for i in at.info), [i.value for i in at.info]
    at.button(key="fs_run").click().run()
    no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert np.isinf(table["error_finite"].iloc[0]) and np.isfinite(table["error_finite"].iloc[1])
    se = metric(at, "Largest s.e., OOD error")
    assert se == f"{table['error_finite_se'].iloc[1]:.2g}" and se != "∞"
    diff = abs(table["error_finite"].iloc[1] - table["error_limit"].iloc[1])
    assert metric(at, "Largest |finite − limit|, OOD error") == f"{diff:.3g}"
    assert any("interpolation peak" in c.value and "Leaving out 1 size" in c.value for c in at.caption)


def test_rounding_is_shown_as_zero():
    import importlib

    sys.path.insert(0, str(APP.parent))
    try:
        fmt = importlib.import_module("ui.fmt")
    finally:
        sys.path.remove(str(APP.parent))
    assert fmt.fmt_diff(5.5511e-17, 0.5) == "0" and fmt.fmt_diff(-2.7756e-17, 0.1, 4) == "0"
    assert fmt.fmt_diff(1e-9, 0.5) == "1e-09" and fmt.fmt_diff(np.inf, 1.0) == "∞"
    # the scaling shift (Σ* = cΣ) has intercept 0 exactly; its float64 value is rounding
    rel = rf.linear_relation(make_shift("scaling"), phi=0.5, noise_var=0.1)
    assert abs(rel.intercept) < 1e-15
    at = open_page("idood", query={"shifts": ["scaling"]})
    assert metric(at, "Intercept (scaling)") == "0"
    assert "intercept 0)" in " ".join(m.value for m in at.markdown)


@needs_disagreement
def test_disagreement_intercepts_rounding_shown_as_zero():
    at = open_page("disagree", query={"shift": "none", "gamma": "0.1"})
    no_traceback(at)
    assert metric(at, "Error line: intercept") == "0"
    assert any("exact bias 0 " in c.value for c in at.caption), [c.value for c in at.caption]


def test_idood_robustness_starts_away_from_the_peak_and_table_says_n_a():
    at = open_page("idood", query={"shifts": ["swap"]})  # default range 0.2 … 10
    text = " ".join(m.value for m in at.markdown)
    assert "from N/n = 1.5 on" in text
    start = float(text.split("For **swap**, N/n from ")[1].split(" ")[0])
    assert 1.5 <= start < 1.7
    at = open_page("idood", query={"shifts": ["swap"], "xr_Nn": ["0.2", "0.8"]})
    summ = at.dataframe[0].value
    assert summ["max |deviation|, N > n"].iloc[0] == "n/a"
    assert metric(at, "Max |deviation|, N > n (swap)") == "n/a"
    assert any("n/a: the N/n range has no overparameterised sizes" in c.value for c in at.caption)


def test_order_page_speaks_words_not_internal_names():
    at = open_page("order")
    shown = " ".join(x.value for x in [*at.caption, *at.success, *at.info])
    for raw in ("a_dominates", "b_dominates", "non_increasing", "non_decreasing", "a_better", "b_better"):
        assert raw not in shown, raw
    assert "Test-mass dominance" in shown
