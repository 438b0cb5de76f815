"""rfshift app: ``streamlit run app/streamlit_app.py`` (also ``rfshift app`` and ``make run``).

A multipage app over the public rfshift API; the pages live in ``app/pages/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st
from streamlit import config as st_config

APP_DIR = Path(__file__).resolve().parent
if str(APP_DIR) not in sys.path:  # so pages can `import ui` however the app is started
    sys.path.insert(0, str(APP_DIR))

from ui import state  # noqa: E402
from ui.fmt import fmt  # noqa: E402
from ui.guard import guarded  # noqa: E402

import rfshift as rf  # noqa: E402

st.set_page_config(page_title="rfshift", page_icon="📉", layout="wide")
# Range sliders need their default as `value=` while ui.state also seeds their session value on
# purpose (carry-over between pages); silence Streamlit's log note about having both.
st_config.set_option("global.disableWidgetStateDuplicationWarning", True)


def home() -> None:
    st.title("rfshift — random features under covariate shift")
    st.markdown(
        "Exact high-dimensional test error of random-feature ridge regression when the test inputs "
        "come from a different Gaussian law than the training inputs: training inputs "
        "x ~ N(0, Σ), test inputs x ~ N(0, Σ*), target βᵀx/√d plus label noise, N random features "
        "σ(Wx/√d), ridge γ. Every number on these pages comes from the `rfshift` library "
        f"(version {rf.__version__}); nothing is simulated unless the Monte Carlo page says so."
    )
    st.markdown(
        "**Ratios.** d = input dimension, n = training samples, N = random features; "
        "φ = d/n and ψ = d/N, so **n/d = 1/φ** and **N/n = φ/ψ** (N > n is overparameterised). "
        '"OOD" tests on Σ*, "ID" tests the same trained model on Σ. Errors exclude test-label noise.'
    )
    st.subheader("Pages")
    for path, title, icon, _, blurb in PAGE_SPECS:
        st.page_link(path, label=f"**{title}** — {blurb}", icon=icon)

    st.subheader("A first number")
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    res = guarded(
        rf.asymptotics, spec, phi=0.5, psi=0.25, gamma=0.01, noise_var=0.25, activation="relu", what="Engine"
    )
    st.caption(
        "Two equally weighted directions whose variances swap at test time (λ = (1.5, 0.5), "
        "λ* = (0.5, 1.5)); ReLU features, n/d = 2, N/n = 2, γ = 0.01, σ² = 0.25."
    )
    c = st.columns(4)
    c[0].metric("OOD error", fmt(res.error))
    c[1].metric("ID error", fmt(res.error_id))
    c[2].metric("OOD bias", fmt(res.bias))
    c[3].metric("OOD variance", fmt(res.variance))
    st.caption(
        "Settings on every page live in the URL query string: copy the address bar to share a view. "
        "Settings that several pages use (spectrum and shift, activation, noise, ratios, ridge) carry "
        "over when you move between pages. Every figure has CSV and PNG downloads."
    )


#: (file, title, icon, URL path, one-line description)
PAGE_SPECS = [
    (
        "pages/1_Learning_curves.py",
        "Learning curves",
        ":material/show_chart:",
        "curves",
        "error, bias and variance (ID and OOD) against N/n, n/d or γ",
    ),
    (
        "pages/2_Partial_order.py",
        "Partial order",
        ":material/compare_arrows:",
        "order",
        "which of two shifts is worse, with a certificate, and where in (φ, ψ)",
    ),
    (
        "pages/3_ID_vs_OOD.py",
        "ID vs OOD",
        ":material/scatter_plot:",
        "id-vs-ood",
        "the exact linear relation between in- and out-of-distribution error",
    ),
    (
        "pages/4_Monte_Carlo_check.py",
        "Monte Carlo check",
        ":material/casino:",
        "monte-carlo",
        "simulate finite networks (JAX) and compare with the theory",
    ),
    (
        "pages/6_Disagreement.py",
        "Disagreement & ensembles",
        ":material/call_split:",
        "disagreement",
        "what two models' disagreement says without OOD labels; ensembles of K models",
    ),
    (
        "pages/5_Formulas.py",
        "Formulas",
        ":material/functions:",
        "formulas",
        "the equations and the solved scalars",
    ),
]

pages = [st.Page(home, title="Overview", icon=":material/home:", default=True)]
pages += [st.Page(path, title=title, icon=icon, url_path=url) for path, title, icon, url, _ in PAGE_SPECS]
current = st.navigation(pages)
st.set_page_config(page_title=f"{current.title} · rfshift")
state.begin_page(current.url_path or "home", has_settings=bool(current.url_path))
current.run()
