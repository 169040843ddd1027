"""Presenter mode: the app made readable on a classroom projector, for this session only.

Switched on by the sidebar toggle or by a link with `?present=1` (a link is read once; after
that the toggle rules). It injects one style sheet into the page: larger text, widget labels,
captions and tables; larger text in Plotly figures; darker text and thicker lines; no Plotly mode
bar, element toolbars or download buttons. The style sheet belongs to the session's page, so
one teacher presenting changes nothing for the 30 students on the same server (Plotly's
template is process-wide and is left alone). Pages may call `active()` to drop their own
secondary controls.
"""

from __future__ import annotations

import streamlit as st

KEY = "present"  # the sidebar toggle's key, and the URL's query parameter
_STORE = "_present.on"  # the toggle's value, kept across pages that have not drawn it yet
_LINK = "_present.link"  # the last `?present=` value read, so a link is read only once
_ON = {"1", "true", "yes", "on"}

BODY_PX = 20  # body text on a 1280×720 projector (Streamlit's default is 16)
SMALL_PX = 18  # captions, widget labels, tables, the sidebar
FIGURE_PX = 17  # tick labels, legends and annotations in figures (the theme uses 13)
FIGURE_TITLE_PX = 21
INK = "#000000"

CSS = f"""<style>
html {{ font-size: {BODY_PX}px; }}
.stApp, .stApp p, .stApp li, .stApp label, .stApp span {{ color: {INK}; }}
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li {{
  font-size: {BODY_PX}px; line-height: 1.45; }}
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p,
[data-testid="stWidgetLabel"] p, [data-testid="stSidebar"] p,
[data-testid="stTable"], [data-testid="stMetricLabel"] p {{
  font-size: {SMALL_PX}px !important; color: {INK} !important; opacity: 1 !important; }}
[data-testid="stMainBlockContainer"] {{ padding: 2.5rem 1.5rem 3rem; max-width: none; }}
.js-plotly-plot .main-svg :is([class$="tick"], [class$="title"], .legend, .colorbar) text {{
  font-size: {FIGURE_PX}px !important; fill: {INK} !important; }}
.js-plotly-plot .main-svg .annotation text {{ font-size: {FIGURE_PX}px !important; }}
.js-plotly-plot .main-svg .g-gtitle text {{ font-size: {FIGURE_TITLE_PX}px !important; }}
.js-plotly-plot .scatterlayer .js-line {{ stroke-width: 4px !important; }}
.js-plotly-plot .gridlayer path {{ stroke: #6b7280 !important; }}
.js-plotly-plot .modebar-container, [data-testid="stElementToolbar"],
[data-testid="stDownloadButton"], [data-testid="stToolbar"] {{ display: none !important; }}
</style>"""


def _read_link() -> None:
    """Take `?present=` from the URL when it differs from the last link read."""
    value = st.query_params.get(KEY)
    ss = st.session_state
    if value is None or ss.get(_LINK) == value:
        return
    ss[_LINK] = value
    ss[_STORE] = value.strip().casefold() in _ON


def active() -> bool:
    """Whether this session is presenting."""
    return bool(st.session_state.get(_STORE, False))


def _remember() -> None:
    st.session_state[_STORE] = st.session_state[KEY]


def toggle() -> bool:
    """The sidebar switch (read the link first), the style sheet when on; returns the state."""
    _read_link()
    ss = st.session_state
    # Streamlit drops a widget's value when another page draws it anew; the copy carries it.
    ss[KEY] = ss.get(_STORE, False)
    on = st.toggle(
        "Presenter mode",
        key=KEY,
        on_change=_remember,
        help="Large text and figures with strong contrast for a projector; fewer small "
        "controls. Only your own screen changes. A link with ?present=1 opens in it.",
    )
    if on:
        st.html(CSS)
    return on
