"""Settings shared between pages, and the URL that reproduces a page.

Every settings widget of the app goes through :func:`seed` (before it is drawn) and :func:`record`
(after). Together they implement three rules:

1. **A link reproduces a page exactly.** When a page is entered, the values in the URL query string
   win: each widget whose key is in the URL starts from that value (a value the widget cannot take —
   not a number, out of range, not an option — is ignored and named in a warning). While the page
   runs, the query string holds every setting that differs from the page's default (a plain
   ``st.query_params`` write per widget), so the address bar is always a link to the current view.
2. **Settings carry to the next page.** Settings that mean the same thing on several pages — the
   spectrum/shift and its parameters, the activation, the label noise, the ratios n/d and N/n, the
   ridge, the target — are kept in one session-wide store (``st.session_state["_rf_shared"]``). A page
   entered without them in its URL starts from the stored values instead of its own defaults. A value
   enters the store once the user has chosen it (it differs from the page default) and follows every
   later change.
3. **Otherwise a page starts from its own defaults.**

The app does not use Streamlit's ``bind="query-params"``: with it, a page switch through the sidebar
dropped some settings and kept others (measured in Chromium with Streamlit 1.67), and page defaults
that differ between pages (σ² = 3 on the partial-order page, 0.1 elsewhere) could not be honoured.

Shared names: a widget may share under another name (``shared_as``), e.g. the partial-order page's
shift A (``a_shift``) is the other pages' ``shift``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import streamlit as st

SHARED = "_rf_shared"  # shared name -> value (session-wide)
PAGE = "_rf_page"  # the page of the previous run
ENTERING = "_rf_entering"  # True on the first run of a page after entering it
URL = "_rf_url"  # the query string as it was when the page was entered: key -> list[str]
REGISTRY = "_rf_registry"  # this run's settings: key -> value (for the share link)
IGNORED = "_rf_ignored"  # URL settings that could not be used this run: (key, value, why)


def begin_page(page_id: str, *, has_settings: bool = True) -> None:
    """Call once per run, before the page draws anything: notes whether the page was just entered
    and, if so and the page ``has_settings``, takes a snapshot of the URL and clears the query string
    (each widget writes its own value back, so settings of the previous page do not linger in the
    address bar). A page without settings (the overview) leaves the query string alone."""
    ss = st.session_state
    entering = ss.get(PAGE) != page_id
    ss[PAGE] = page_id
    ss[ENTERING] = entering
    ss[REGISTRY] = {}
    ss[IGNORED] = []
    ss.setdefault(SHARED, {})
    if entering and has_settings:
        qp = st.query_params
        ss[URL] = {k: list(qp.get_all(k)) for k in qp}
        qp.clear()


def shared() -> dict[str, Any]:
    """The session-wide store of shared settings (shared name -> value)."""
    return st.session_state.setdefault(SHARED, {})


def _url_text(v: Any) -> str | list[str]:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.12g}"
    if isinstance(v, (list, tuple)):
        return [str(_url_text(x)) for x in v]
    return str(v)


def seed(
    key: str,
    default: Any,
    parse: Callable[[list[str]], Any],
    *,
    shared_as: str | None = None,
    valid: Callable[[Any], bool] = lambda v: True,
) -> None:
    """Put the widget's starting value into ``st.session_state[key]`` when the page is entered (or
    the widget appears for the first time on this page): from the URL if it names ``key`` (parsed by
    ``parse``, which raises ValueError for a value the widget cannot take), else from the shared store
    (``shared_as``, if ``valid`` accepts the stored value), else ``default``."""
    ss = st.session_state
    entering = bool(ss.get(ENTERING, True))
    if not entering and key in ss:
        return  # a rerun of the same page: the widget keeps its value
    value = default
    raw = ss.get(URL, {}).get(key) if entering else None
    store = shared()
    if raw is not None:
        try:
            value = parse(raw)
        except (ValueError, TypeError) as exc:
            ss.setdefault(IGNORED, []).append((key, "&".join(raw), str(exc)))
            value = default
    elif shared_as is not None and shared_as in store and valid(store[shared_as]):
        value = store[shared_as]
    ss[key] = value


def record(key: str, value: Any, default: Any, *, shared_as: str | None = None) -> None:
    """After the widget is drawn: put its value in the URL (removed when it equals the default), in
    this run's registry (the share link) and, for a shared setting the user has chosen, in the store."""
    ss = st.session_state
    ss.setdefault(REGISTRY, {})[key] = value
    qp = st.query_params
    if value != default:
        text = _url_text(value)
        if qp.get_all(key) != (text if isinstance(text, list) else [text]):
            qp[key] = text
    elif key in qp:
        del qp[key]
    if shared_as is not None:
        store = shared()
        if value != default or shared_as in store:
            store[shared_as] = value


def settings() -> dict[str, Any]:
    """Every setting drawn so far in this run (key -> value)."""
    return dict(st.session_state.get(REGISTRY, {}))


def share_link(values: dict[str, Any] | None = None) -> str:
    """``?key=value&…`` spelling out every setting of the page (or ``values``)."""
    items = settings() if values is None else values
    return "?" + urlencode({k: _url_text(v) for k, v in items.items()}, doseq=True)


def report_ignored() -> None:
    """Warn about URL settings that could not be used (call after the sidebar is drawn)."""
    ignored = st.session_state.get(IGNORED) or []
    if ignored:
        st.warning(
            "Some settings in the link could not be used and were left at their defaults: "
            + "; ".join(f"`{k}={v}` ({why})" for k, v, why in ignored)
        )


def share_box() -> None:
    """An expander with a relative link holding every setting of the page."""
    with st.expander("Share these settings"):
        st.caption(
            "The address bar already holds every setting that differs from the page's default. This "
            "link spells them all out (uploaded files cannot be shared by link). Settings such as the "
            "spectrum, activation, noise and ratios also carry over when you move to another page."
        )
        st.code(share_link(), language=None)
