"""The spectrum/shift picker (a named family from ``rfshift.shifts`` or an uploaded file)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import streamlit as st

import rfshift as rf
from rfshift import io as rfio
from rfshift.shifts import FAMILIES, make_shift

from . import widgets
from .guard import fail, guarded

UPLOAD = "upload"
#: Upload size limit, in MiB (the library's own limit, so files it would refuse never get in).
MAX_UPLOAD_MB = max(1, rfio.MAX_BYTES // 2**20)
#: Session key of the last uploaded spectrum (so an upload carries to the next page too).
LAST_UPLOAD = "_rf_last_upload"


@dataclass(frozen=True)
class SpectrumChoice:
    """A chosen joint spectrum (Σ, Σ*) — with a target, if one was picked — and how it was chosen.

    ``covariances``: the uploaded matrices (Σ, Σ*[, B]) when the spectrum came from covariance files (so
    pages can use them at their own size; B when the file also holds the target covariance);
    ``target``: the label of a target picked in the app (``None``: isotropic or the file's own).
    """

    spec: rf.Spectrum
    label: str
    family: str | None = None
    params: dict[str, float] = field(default_factory=dict)
    covariances: tuple[np.ndarray, ...] | None = None
    target: str | None = None

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.spec.lam, self.spec.lam_star, self.spec.weights

    @property
    def b(self) -> np.ndarray | None:
        """Target power per atom, or None for the isotropic target (or an rfshift without targets)."""
        return getattr(self.spec, "target_power", None)

    @property
    def key(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """(lam, lam_star, weights, target_power): hashable input of the cached engine calls."""
        return (*self.arrays, self.b)


def make_spectrum(
    lam: np.ndarray, lam_star: np.ndarray, weights: np.ndarray, target_power: np.ndarray | None = None
) -> rf.Spectrum:
    """``rf.Spectrum`` from arrays; ``target_power`` only passed when set (works without targets)."""
    if target_power is None:
        return rf.Spectrum(lam, lam_star, weights)
    return rf.Spectrum(lam, lam_star, weights, target_power=target_power)


def _family_label(name: str) -> str:
    if name == UPLOAD:
        return "your own spectrum: CSV (lam, lam_star, weight) or covariance files"
    return f"{name} — {FAMILIES[name].description}"


def _nice_step(lo: float, hi: float) -> float:
    span = hi - lo
    return 10.0 ** math.floor(math.log10(span / 100.0)) if span > 0 else 0.01


def family_param_sliders(
    name: str,
    prefix: str,
    container: Any,
    overrides: dict[str, float] | None = None,
    *,
    shared: bool = True,
) -> dict[str, float]:
    """One slider per parameter of shift family ``name`` (keys ``<prefix><name>_<param>``; shared
    between pages as ``<name>_<param>`` when ``shared``)."""
    params: dict[str, float] = {}
    for p, (default, lo, hi) in FAMILIES[name].params.items():
        default = float((overrides or {}).get(p, default))
        params[p] = float(
            widgets.slider(
                f"{name}: {p}",
                f"{prefix}{name}_{p}",
                float(lo),
                float(hi),
                default,
                _nice_step(lo, hi),
                shared_as=f"{name}_{p}" if shared else None,
                container=container,
            )
        )
    return params


@st.cache_data(show_spinner=False, max_entries=32)
def _load_upload(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(lam, lam_star, weights, target_power or None) of an uploaded file (``rfio.load_spectrum``)."""
    spec = rfio.load_spectrum(data, name=name)
    return spec.lam, spec.lam_star, spec.weights, getattr(spec, "target_power", None)


@st.cache_data(show_spinner=False, max_entries=8)
def _matrices(data: bytes, name: str) -> tuple[np.ndarray, ...] | None:
    """(Σ, Σ*) — and the target covariance B when an .npz holds ``target_cov`` — of an .npz or stacked
    .npy upload already validated by ``rfio.load_spectrum``; None for a CSV (atoms only)."""
    import io as _io

    if name.lower().endswith(".csv") or not (data[:6] == b"\x93NUMPY" or data[:4] == b"PK\x03\x04"):
        return None
    if data[:6] == b"\x93NUMPY":
        arr = np.load(_io.BytesIO(data), allow_pickle=False).astype(float)
        return arr[0], arr[1]
    with np.load(_io.BytesIO(data), allow_pickle=False) as z:
        mats = (z["Sigma"].astype(float), z["Sigma_star"].astype(float))
        if "target_cov" in z.files and np.ndim(z["target_cov"]) == 2:
            mats += (z["target_cov"].astype(float),)
        return mats


@st.cache_data(show_spinner=False, max_entries=8)
def _pair_matrices(a: bytes, b: bytes) -> tuple[np.ndarray, np.ndarray]:
    import io as _io

    return tuple(np.load(_io.BytesIO(x), allow_pickle=False).astype(float) for x in (a, b))  # type: ignore[return-value]


@st.cache_data(show_spinner=False, max_entries=32)
def _load_pair(a: bytes, b: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    spec = rfio.load_covariance_pair(a, b)
    return spec.lam, spec.lam_star, spec.weights, getattr(spec, "target_power", None)


def _read_upload(f: Any, what: str) -> bytes:
    size = getattr(f, "size", None)
    if size is not None and size > rfio.MAX_BYTES:
        fail(f"{what}: {f.name} is larger than {MAX_UPLOAD_MB} MiB")
    return bytes(f.getvalue())


def upload_picker(prefix: str = "", *, container: Any = None, shared: bool = True) -> SpectrumChoice:
    """File upload of a joint spectrum: CSV (lam, lam_star[, weight]), .npz (Sigma, Sigma_star),
    a stacked (2, d, d) .npy, or two .npy covariances. Never unpickled; size-limited. A file uploaded
    on another page (or earlier) is used until a new one is uploaded here (with ``shared``; otherwise
    only one uploaded to this picker)."""
    c = container or st.sidebar
    store_key = LAST_UPLOAD if shared else f"{LAST_UPLOAD}_{prefix}"
    mode = c.radio(
        "File format",
        ["one file (.csv, .npz, stacked .npy)", "two .npy files (Σ, then Σ*)"],
        key=f"{prefix}upload_mode",
    )
    last = st.session_state.get(store_key)
    if mode.startswith("one"):
        f = c.file_uploader(
            "Spectrum file",
            type=["csv", "npz", "npy"],
            key=f"{prefix}upload_file",
            max_upload_size=MAX_UPLOAD_MB,
            help="CSV with header lam,lam_star[,weight]; .npz with arrays Sigma and Sigma_star; "
            ".npy of shape (2, d, d). Pickled data is never loaded.",
        )
        files = [f] if f is not None else []
    else:
        fa = c.file_uploader(
            "Σ (training covariance, .npy)",
            type=["npy"],
            key=f"{prefix}upload_sigma",
            max_upload_size=MAX_UPLOAD_MB,
        )
        fb = c.file_uploader(
            "Σ* (test covariance, .npy)",
            type=["npy"],
            key=f"{prefix}upload_sigma_star",
            max_upload_size=MAX_UPLOAD_MB,
        )
        files = [fa, fb] if fa is not None and fb is not None else []
    if not files:
        if last is not None:
            c.caption(f"Using the file uploaded earlier: **{last['label']}** (upload another to replace it).")
            spec = guarded(
                make_spectrum,
                last["lam"],
                last["lam_star"],
                last["weights"],
                last["b"],
                what="Invalid spectrum",
            )
            return SpectrumChoice(spec, last["label"])
        st.info(
            "Upload a spectrum file in the sidebar to continue (CSV columns lam, lam_star, weight; "
            "or covariances as .npz / .npy)."
            if mode.startswith("one")
            else "Upload both covariance matrices (Σ and Σ*, .npy, same shape) in the sidebar to continue."
        )
        st.stop()
    if len(files) == 1:
        f = files[0]
        data = _read_upload(f, "upload")
        lam, lam_star, w, b = guarded(_load_upload, data, f.name, what=f"Could not read {f.name!r}")
        covs = _matrices(data, f.name)
        label = f"upload: {f.name}"
    else:
        fa, fb = files
        da, db = _read_upload(fa, "Σ"), _read_upload(fb, "Σ*")
        lam, lam_star, w, b = guarded(
            _load_pair, da, db, what=f"Could not read the covariance pair {fa.name!r}, {fb.name!r}"
        )
        covs = _pair_matrices(da, db)
        label = f"upload: {fa.name} / {fb.name}"
    spec = guarded(make_spectrum, lam, lam_star, w, b, what="Invalid spectrum")
    st.session_state[store_key] = {
        "label": label,
        "lam": lam,
        "lam_star": lam_star,
        "weights": w,
        "b": b,
        "covariances": covs,
    }
    return SpectrumChoice(spec, label, covariances=covs)


def spectrum_picker(
    prefix: str = "",
    *,
    label: str = "Training spectrum and shift",
    default: str = "power_law",
    container: Any = None,
    allow_upload: bool = True,
    overrides: dict[str, float] | None = None,
    shared: bool = True,
) -> SpectrumChoice:
    """Sidebar selector of a shift family (with sliders for its parameters) or an uploaded spectrum;
    ``overrides`` replaces the families' default parameter values (e.g. ``{"tau": -1.0}``). With
    ``shared``, the choice carries between pages (as ``shift`` and ``<family>_<param>``)."""
    c = container or st.sidebar
    options = [*FAMILIES, *([UPLOAD] if allow_upload else [])]
    name = str(
        widgets.selectbox(
            label,
            f"{prefix}shift",
            options,
            default,
            shared_as="shift" if shared else None,
            container=c,
            help="Named shift families (rfshift.shifts) or a file of your own.",
        )
    )
    c.caption(_family_label(name))
    if name == UPLOAD:
        return upload_picker(prefix, container=c, shared=shared)
    params = family_param_sliders(name, prefix, c, overrides, shared=shared)
    spec = guarded(make_shift, name, **params, what=f"Shift {name!r}")
    args = ", ".join(f"{k}={v:g}" for k, v in params.items())
    return SpectrumChoice(spec, f"{name}({args})", name, params)


# --- the target -------------------------------------------------------------------------------------

TARGET_FILE = "file"  # the spectrum file's own target column


def target_families() -> dict[str, Any] | None:
    """``rfshift.shifts.TARGETS`` (name -> family with ``params`` and ``description``), or None when
    this rfshift has no structured targets."""
    from rfshift import shifts

    fams = getattr(shifts, "TARGETS", None)
    return fams if fams and hasattr(rf.Spectrum, "with_target") else None


def _read_target_file(data: bytes, name: str, spec: rf.Spectrum) -> np.ndarray:
    """Target power per atom from a CSV (header ``target_power`` or ``b``, one number a line) or a 1-D
    .npy, in the order of the spectrum's atoms. Raises ValueError naming the problem (never unpickles)."""
    import io as _io

    n = spec.n_atoms
    if name.lower().endswith(".npy") or data[:6] == b"\x93NUMPY":
        try:
            arr = np.load(_io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            why = "it holds pickled data, which is never loaded" if "pickle" in str(exc).lower() else str(exc)
            raise ValueError(f"{name}: unreadable .npy ({why})") from None
        if arr.dtype.kind not in "iuf" or arr.ndim != 1:
            raise ValueError(
                f"{name}: expected a 1-D array of real numbers, got shape {arr.shape}, {arr.dtype}"
            )
        b = arr.astype(float)
    else:
        try:
            lines = [ln.strip() for ln in data.decode("utf-8-sig").splitlines() if ln.strip()]
        except UnicodeDecodeError:
            raise ValueError(f"{name}: not a UTF-8 text (CSV) file") from None
        if not lines or lines[0].lower() not in ("target_power", "b"):
            raise ValueError(
                f"{name}: the CSV must have the header target_power (or b) and one number a line"
            )
        vals = []
        for i, ln in enumerate(lines[1:], start=2):
            try:
                vals.append(float(ln))
            except ValueError:
                raise ValueError(f"{name}, line {i}: {ln!r} is not a number") from None
        b = np.asarray(vals, dtype=float)
    if b.size != n:
        raise ValueError(
            f"{name}: {b.size} values, but the spectrum has {n} atoms (one target power per atom)"
        )
    return b


def target_setting(
    prefix: str = "",
    *,
    container: Any = None,
    shared: bool = True,
    allow_upload: bool = True,
    has_file: bool = False,
) -> tuple[str, dict[str, float]] | None:
    """The target selector and its parameter sliders: returns (name, params) — a family of
    ``rfshift.shifts.TARGETS``, ``"upload"`` or ``"file"`` — or None without structured targets."""
    fams = target_families()
    if fams is None:
        return None
    c = container or st.sidebar
    options = [*([TARGET_FILE] if has_file else []), *fams, *([UPLOAD] if allow_upload else [])]
    default = TARGET_FILE if has_file else "isotropic"
    # A spectrum file that brings its own target selects it when it arrives; without one, "file" is gone.
    ss, key, flag = st.session_state, f"{prefix}target", f"_rf_{prefix}target_has_file"
    if has_file and not ss.get(flag, False) and key in ss:
        ss[key] = TARGET_FILE
    elif not has_file and ss.get(key) == TARGET_FILE:
        ss[key] = "isotropic"
    ss[flag] = has_file

    def label(name: str) -> str:
        if name == TARGET_FILE:
            return "file — the spectrum file's target column"
        if name == UPLOAD:
            return "upload — one target power per atom (CSV or .npy)"
        return f"{name} — {fams[name].description}"

    name = str(
        widgets.selectbox(
            "Target β ~ N(0, B)",
            f"{prefix}target",
            options,
            default,
            shared_as="target" if shared else None,
            container=c,
            format_func=label,
            help="Where the target's power b_k = E(v_kᵀβ)² lies among the eigen-directions of Σ. Shifting "
            "test mass onto directions the target ignores costs only variance; onto directions it needs "
            "and training rarely saw, bias too.",
        )
    )
    params: dict[str, float] = {}
    if name in fams:
        for p, (dflt, lo, hi) in fams[name].params.items():
            params[p] = float(
                widgets.slider(
                    f"target {name}: {p}",
                    f"{prefix}target_{name}_{p}",
                    float(lo),
                    float(hi),
                    float(dflt),
                    _nice_step(lo, hi),
                    shared_as=f"target_{name}_{p}" if shared else None,
                    container=c,
                )
            )
    return name, params


def target_label(name: str, params: dict[str, float]) -> str:
    args = ", ".join(f"{k}={v:g}" for k, v in params.items())
    return f"{name}({args})" if args else name


def with_target(spec: rf.Spectrum, name: str, params: dict[str, float]) -> rf.Spectrum:
    """``spec`` with the named target family attached (``rfshift.shifts.make_target``)."""
    from rfshift.shifts import make_target

    return make_target(spec, name, **params)


def target_picker(
    choice: SpectrumChoice,
    prefix: str = "",
    *,
    container: Any = None,
    shared: bool = True,
) -> SpectrumChoice:
    """Sidebar selector of the target β ~ N(0, B): a family from ``rfshift.shifts.TARGETS``
    (isotropic, source-condition power law b ∝ λ^alpha, aligned with / against the shift) with its
    parameter sliders, or an uploaded target power per atom. Returns ``choice`` with the target
    attached. Without structured targets in this rfshift it returns ``choice`` unchanged."""
    c = container or st.sidebar
    has_file = choice.b is not None and choice.family is None
    setting = target_setting(prefix, container=c, shared=shared, has_file=has_file)
    if setting is None:
        return choice
    name, params = setting
    if name == TARGET_FILE:
        return choice
    if name == UPLOAD:
        f = c.file_uploader(
            "Target power per atom (CSV header target_power, or 1-D .npy)",
            type=["csv", "npy"],
            key=f"{prefix}target_file",
            max_upload_size=MAX_UPLOAD_MB,
        )
        if f is None:
            c.caption("No target file yet: using the isotropic target.")
            return choice
        b = guarded(_read_target_file, _read_upload(f, "target"), f.name, choice.spec, what="Target file")
        spec = guarded(choice.spec.with_target, b, what="Invalid target")
        return SpectrumChoice(
            spec,
            f"{choice.label}, target {f.name}",
            choice.family,
            choice.params,
            choice.covariances,
            f"upload: {f.name}",
        )
    if name == "isotropic":
        return choice if choice.b is None else replace(choice, spec=choice.spec.with_target(None))
    spec = guarded(with_target, choice.spec, name, params, what=f"Target {name!r}")
    tlabel = target_label(name, params)
    return SpectrumChoice(
        spec,
        f"{choice.label}, target {tlabel}",
        choice.family,
        choice.params,
        choice.covariances,
        None if name == "isotropic" else tlabel,
    )


def apply_target(spec: rf.Spectrum, target: SpectrumChoice) -> rf.Spectrum:
    """``spec`` (same atoms as ``target.spec``) with ``target``'s target power — isotropic when it has
    none — so that two shifts are compared for the same target."""
    if not hasattr(spec, "with_target"):
        return spec
    return spec.with_target(target.b)


def target_formula(teacher: str | None = None, nonlinear_var: float = 0.0) -> str:
    """The label model in words: y = βᵀx/√d + noise, with the teacher f* and the nonlinear part g
    when they are set."""
    core = "βᵀx/√d" if teacher is None else f"f*(βᵀx/√d) with teacher f* = {teacher}"
    extra = f" + g(x) (a part no linear function of x explains, variance σ_g² = {nonlinear_var:g})" if (
        nonlinear_var
    ) else ""
    return f"y = {core}{extra} + noise"


def target_explainer(
    choice: SpectrumChoice, *, teacher: str | None = None, nonlinear_var: float = 0.0
) -> None:
    """A short explanation of the target with a picture of target power against test mass per
    eigen-direction (no-op without structured targets in this rfshift); ``teacher``/``nonlinear_var``
    as chosen on the page, so the label model shown is the one computed."""
    if target_families() is None:
        return
    import altair as alt
    import pandas as pd

    from .charts import PALETTE

    spec = choice.spec
    b = spec.b if hasattr(spec, "b") else np.ones_like(spec.lam)
    with st.expander("The target: where its power lies, and where the shift moves test mass", expanded=False):
        st.markdown(
            f"The target is {target_formula(teacher, nonlinear_var)} with β ~ N(0, B); "
            "b_k = E(v_kᵀβ)² is its power along the k-th eigen-direction of Σ (isotropic: b ≡ 1). "
            "Training sees direction k with variance λ_k, the test "
            "law with λ*_k. **Test mass moved onto directions the target ignores (b ≈ 0) costs only "
            "variance; moved onto directions the target needs (large b) that training rarely saw (small λ), "
            "it costs bias too.** Each point below is one eigen-direction (atom) of Σ."
        )
        n = spec.n_atoms
        df = pd.DataFrame(
            {
                "lambda": np.tile(spec.lam, 3),
                "value": np.concatenate([b, spec.lam_star, spec.lam]),
                "weight": np.tile(spec.weights, 3),
                "series": np.repeat(
                    ["target power b", "test variance λ* (test mass)", "training variance λ"], n
                ),
            }
        )
        pos = bool(np.all(spec.lam > 0))
        logy = bool(np.all(df["value"] > 0))
        domain = ["target power b", "test variance λ* (test mass)", "training variance λ"]
        st.altair_chart(
            alt.Chart(df)
            .mark_line(point=True)
            .encode(
                x=alt.X(
                    "lambda:Q",
                    title="training eigenvalue λ of the direction",
                    scale=alt.Scale(type="log" if pos else "linear"),
                ),
                y=alt.Y("value:Q", title="per direction", scale=alt.Scale(type="log" if logy else "linear")),
                color=alt.Color(
                    "series:N",
                    scale=alt.Scale(domain=domain, range=PALETTE[:3]),
                    legend=alt.Legend(title="colour", orient="bottom"),
                ),
                tooltip=[
                    "series:N",
                    alt.Tooltip("lambda:Q", format=".4g"),
                    alt.Tooltip("value:Q", format=".4g"),
                    alt.Tooltip("weight:Q", format=".3g"),
                ],
            )
            .properties(height=260),
            width="stretch",
        )
        sig = float(spec.weights @ (b * spec.lam))
        sig_star = float(spec.weights @ (b * spec.lam_star))
        st.caption(
            f"Target: **{choice.target or 'isotropic'}**. Signal energy ⟨bλ⟩ = {sig:.4g} on the training "
            "law, "
            f"⟨bλ*⟩ = {sig_star:.4g} on the test law (ratio {sig_star / sig:.3g}); the target families are "
            "normalised to ⟨bλ⟩ = s = tr Σ/d." + ("" if logy else " (Zero values: linear y-axis.)")
        )
