"""The spectrum/shift picker (a named family from ``rfshift.shifts`` or an uploaded file)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
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
    """A chosen joint spectrum (Σ, Σ*) and how it was chosen (for labels and the URL)."""

    spec: rf.Spectrum
    label: str
    family: str | None = None
    params: dict[str, float] = field(default_factory=dict)

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.spec.lam, self.spec.lam_star, self.spec.weights


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
def _load_upload(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spec = rfio.load_spectrum(data, name=name)
    return spec.lam, spec.lam_star, spec.weights


@st.cache_data(show_spinner=False, max_entries=32)
def _load_pair(a: bytes, b: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spec = rfio.load_covariance_pair(a, b)
    return spec.lam, spec.lam_star, spec.weights


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
                rf.Spectrum, last["lam"], last["lam_star"], last["weights"], what="Invalid spectrum"
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
        lam, lam_star, w = guarded(
            _load_upload, _read_upload(f, "upload"), f.name, what=f"Could not read {f.name!r}"
        )
        label = f"upload: {f.name}"
    else:
        fa, fb = files
        lam, lam_star, w = guarded(
            _load_pair,
            _read_upload(fa, "Σ"),
            _read_upload(fb, "Σ*"),
            what=f"Could not read the covariance pair {fa.name!r}, {fb.name!r}",
        )
        label = f"upload: {fa.name} / {fb.name}"
    spec = guarded(rf.Spectrum, lam, lam_star, w, what="Invalid spectrum")
    st.session_state[store_key] = {"label": label, "lam": lam, "lam_star": lam_star, "weights": w}
    return SpectrumChoice(spec, label)


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
