"""The sidebar menu and the home page's cards: every page, drawn by one small component.

Drawn with `st.page_link`, the 27 entries were 27 elements for the server to build, hash and
send at every run of every page: about a third of the run of the home page, and a fifth of a
class's CPU for a page open (README, "Running it for a classroom"). Here the whole menu is one
element (Streamlit's components v2, in the page itself, no iframe) whose data is the same at
every run. It draws real links (`<a href>`, so a link opens in a new tab with a middle click or
Ctrl-click, and is announced as a link); a plain click instead tells the server which page,
which then opens it with `st.switch_page`, as `st.page_link` does, keeping the session. The
entry of the page on screen is marked (`aria-current="page"`). Sizes are in rem, so presenter
mode's larger root font enlarges the menu too.
"""

from __future__ import annotations

import itertools

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from ui.nav import PageInfo, available_pages

KEY = "cnnlab_menu"
CARDS_KEY = "cnnlab_page_cards"
LINK_TESTID = "cnnlab-menu-link"  # the browser tests find menu entries by it
CARD_TESTID = "cnnlab-page-card"  # and the home page's cards
SIDEBAR_OVERLAY_PX = 767  # up to this width Streamlit's sidebar covers the page: a click closes it

CSS = """
nav { display: flex; flex-direction: column; gap: 0.05rem; font-family: var(--st-font, inherit); }
.section { margin: 0.7rem 0 0.15rem 0.25rem; font-size: 0.8rem; letter-spacing: 0.02em;
  color: var(--st-text-color); opacity: 0.72; }
a { display: flex; align-items: center; gap: 0.5rem; padding: 0.2rem 0.5rem;
  border-radius: 0.5rem; color: var(--st-text-color); text-decoration: none;
  font-size: 1rem; line-height: 1.6; }
a:hover { background: var(--st-secondary-background-color, rgba(151, 166, 195, 0.15)); }
a:focus-visible { outline: 2px solid var(--st-primary-color); outline-offset: 1px; }
a[aria-current="page"] { background: var(--st-secondary-background-color,
  rgba(151, 166, 195, 0.25)); font-weight: 600; }
.icon { font-family: "Material Symbols Rounded"; font-size: 1.25rem; line-height: 1;
  font-weight: 400; font-style: normal; -webkit-font-feature-settings: "liga";
  font-feature-settings: "liga"; width: 1.25rem; flex: none; opacity: 0.8; }
.cards { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 1rem;
  font-family: var(--st-font, inherit); }
@media (max-width: 1024px) { .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
@media (max-width: 640px) { .cards { grid-template-columns: minmax(0, 1fr); } }
.card { border: 1px solid var(--st-border-color, rgba(49, 51, 63, 0.2)); border-radius: 0.5rem;
  padding: 0.75rem 1rem; }
.card a { font-weight: 600; padding: 0.2rem 0.25rem; margin: -0.2rem -0.25rem 0.25rem; }
.card p { margin: 0; font-size: 0.875rem; line-height: 1.45; color: var(--st-text-color);
  opacity: 0.75; }
"""

JS = """
function link(entry, data, setTriggerValue) {
  const [href, label, icon, path] = entry;
  const a = document.createElement("a");
  a.href = href === "" ? "./" : href;
  a.dataset.testid = data.testid;
  a.dataset.path = path;
  if (path === data.current) a.setAttribute("aria-current", "page");
  const i = document.createElement("span");
  i.className = "icon";
  i.setAttribute("aria-hidden", "true");
  i.textContent = icon;
  const text = document.createElement("span");
  text.textContent = label;
  a.append(i, text);
  a.addEventListener("click", (event) => {
    const modified = event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
    if (event.button !== 0 || modified) {
      return;  // a new tab or window: the browser follows the link
    }
    event.preventDefault();
    setTriggerValue("open", path);
    if (data.overlay && window.matchMedia(`(max-width: ${data.overlay}px)`).matches) {
      // on a phone the sidebar covers the page: close it, as a student expects
      document.querySelector('[data-testid="stSidebarCollapseButton"] button')?.click();
    }
  });
  return a;
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = document.createElement("nav");
  root.setAttribute("aria-label", data.label);
  if (data.cards) {
    root.className = "cards";
    for (const entry of data.cards) {
      const card = document.createElement("div");
      card.className = "card";
      const about = document.createElement("p");
      about.textContent = entry[4];
      card.append(link(entry, data, setTriggerValue), about);
      root.appendChild(card);
    }
  } else {
    for (const [section, links] of data.sections) {
      const head = document.createElement("div");
      head.className = "section";
      head.textContent = section;
      root.appendChild(head);
      for (const entry of links) root.appendChild(link(entry, data, setTriggerValue));
    }
  }
  parentElement.querySelector("nav")?.remove();  // the last run's (the style sheet stays)
  parentElement.appendChild(root);
}
"""


@st.cache_resource
def _component():
    """Register the component once per server (registering twice logs a warning)."""
    return st.components.v2.component("cnnlab_menu", css=CSS, js=JS)


def _icon_name(icon: str) -> str:
    """`:material/home:` -> `home`, the ligature the Material Symbols font draws."""
    return icon.removeprefix(":material/").removesuffix(":")


@st.cache_resource(show_spinner=False)
def _entries() -> tuple[tuple[tuple[str, tuple], ...], dict[str, st.Page]]:
    """(the sections as the component draws them, each page's object by path): made once per
    server. The main script is the default page, whose address is the site's root."""
    pages = available_pages()
    objects = {p.path: _page(p) for p in pages}
    sections = tuple(
        (
            section.upper(),
            tuple(
                (
                    "" if p.path == "app.py" else objects[p.path].url_path,
                    p.label,
                    _icon_name(p.icon),
                    p.path,
                )
                for p in group
            ),
        )
        for section, group in itertools.groupby(pages, key=lambda p: p.section)
    )
    return sections, objects


def _page(info: PageInfo) -> st.Page:
    return st.Page(info.path, title=info.label, icon=info.icon, default=info.path == "app.py")


def current_path(objects: dict[str, st.Page]) -> str | None:
    """The path of the page this run draws (`pages/build.py`), by Streamlit's page hash."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return None
    running = ctx.page_script_hash
    return next((path for path, page in objects.items() if page._script_hash == running), None)


def _open(result) -> None:
    """Open the page a click asked for (this run stops here)."""
    target = getattr(result, "open", None)
    _, objects = _entries()
    if isinstance(target, str) and target in objects:
        st.switch_page(objects[target])


def sidebar_menu() -> None:
    """Draw the menu; when a link was clicked, open its page (this run stops here)."""
    sections, objects = _entries()
    data = {
        "sections": sections,
        "current": current_path(objects),
        "testid": LINK_TESTID,
        "overlay": SIDEBAR_OVERLAY_PX,
        "label": "Pages",
    }
    _open(_component()(key=KEY, data=data, on_open_change=lambda: None))


@st.cache_resource(show_spinner=False)
def _cards() -> tuple[tuple[str, str, str, str, str], ...]:
    """(address, label, icon, path, "Section. What it teaches.") for every page but home."""
    _, objects = _entries()
    return tuple(
        (objects[p.path].url_path, p.label, _icon_name(p.icon), p.path, f"{p.section}. {p.teaches}")
        for p in available_pages()
        if p.path != "app.py"
    )


def page_cards() -> None:
    """The home page's grid of pages, a card each with what it teaches: one element, like the
    menu (drawn as 26 bordered containers of a link and a caption, it was about 110 elements,
    most of the home page's run)."""
    data = {"cards": _cards(), "testid": CARD_TESTID, "label": "Every page", "current": None}
    _open(_component()(key=CARDS_KEY, data=data, on_open_change=lambda: None))
