"""Phones and tablets: a small style sheet, and the browser's width reported to the figures.

`apply()` runs once per page run (ui/frame.py). It adds the style sheet: Plotly's toolbar
hidden on touch screens and narrow windows (it covered titles there); less padding on a phone;
wide tables and formulas scrolling inside their own box.
It mounts `viewport`, a tiny custom component (Streamlit components v2, no iframe) whose script
tells the server the window's width whenever it crosses a breakpoint. The figure code reads
that width through `viz.narrow.screen_width()` and restacks side-by-side panels on a phone.
The first run of a session on a phone is drawn for a laptop; the width arrives a moment later
and the page redraws once. Each run marks the page with `<span data-cnnlab-layout="phone|
tablet|wide">`, what the server drew for (the browser tests wait for the one that matches).
"""

from __future__ import annotations

import streamlit as st

from viz import narrow
from viz.narrow import bucket

WIDTH = "responsive.width"  # session key: the browser window's width in px
COMPONENT_KEY = "responsive_viewport"

STYLE = f"""<style>
@media (max-width: {narrow.TABLET_MAX}px), (hover: none) {{
  [data-testid="stPlotlyChart"] .modebar-container {{ display: none !important; }}
}}
@media (max-width: {narrow.PHONE_MAX}px) {{
  [data-testid="stMainBlockContainer"] {{ padding-left: 1rem; padding-right: 1rem; }}
}}
[data-testid="stMarkdownContainer"] table, .katex-display {{
  display: block; max-width: 100%; overflow-x: auto; overflow-y: hidden;
}}
.st-key-{COMPONENT_KEY} {{ display: none; }}
</style>"""

JS = """
export default function(component) {
  const { data, setStateValue } = component;
  const bucket = (w) => (w <= data.phone ? "phone" : w <= data.tablet ? "tablet" : "wide");
  const report = () => {
    const w = window.innerWidth;
    const last = window.cnnlabLayoutBucket ?? data.known;
    if (bucket(w) !== last) {
      window.cnnlabLayoutBucket = bucket(w);
      setStateValue("width", w);
    }
  };
  report();
  let timer = null;
  const later = () => { clearTimeout(timer); timer = setTimeout(report, 250); };
  window.addEventListener("resize", later);
  return () => { clearTimeout(timer); window.removeEventListener("resize", later); };
}
"""


@st.cache_resource
def _component():
    """Register the component once per server (registering twice logs a warning)."""
    return st.components.v2.component("cnnlab_viewport", js=JS)


def _session_width() -> int | None:
    return st.session_state.get(WIDTH)


def viewport() -> int | None:
    """Mount the width reporter; returns the window's width in px once the browser said it."""
    known = st.session_state.get(WIDTH)
    data = {"phone": narrow.PHONE_MAX, "tablet": narrow.TABLET_MAX, "known": bucket(known)}
    result = _component()(key=COMPONENT_KEY, data=data, on_width_change=lambda: None)
    width = result.get("width") if hasattr(result, "get") else getattr(result, "width", None)
    if isinstance(width, int | float) and width > 0:
        st.session_state[WIDTH] = int(width)
    return st.session_state.get(WIDTH)


def apply() -> None:
    """The page's style sheet and width reporter; figures drawn after this fit the screen."""
    narrow.set_width_source(_session_width)
    width = viewport()
    st.html(f'{STYLE}<span data-cnnlab-layout="{bucket(width)}"></span>')
