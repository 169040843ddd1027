"""Settings in a link: only registered widget keys, only checked values, once per link."""

from __future__ import annotations

import time
import tracemalloc
from urllib.parse import parse_qsl, urlsplit

import pytest

from models.errors import CNNLabError
from ui import links
from ui.links import LINKABLE, OneOf, Real, Whole
from ui.nav import ROOT
from ui.panels.convolution import TABS

REGISTERED = [
    (page, key, parser) for page, keys in LINKABLE.items() for key, parser in keys.items()
]
IDS = [f"{page}.{key}" for page, key, _ in REGISTERED]


def _outside(parser) -> list[str]:
    """Texts the parser must refuse: past each end, the wrong type, nonsense."""
    if isinstance(parser, Whole):
        return [str(parser.low - 1), str(parser.high + 1), "1.5", "two", "", "9" * 5000]
    if isinstance(parser, Real):
        return [f"{parser.low - 1:g}", f"{parser.high + 1:g}", "nan", "inf", "1e999", "x"]
    if isinstance(parser, OneOf):
        return ["not an option", "", "'; drop table"]
    return ["maybe", "2", ""]


def _inside(parser) -> tuple[str, object]:
    """One text the parser accepts, and the value it must give."""
    if isinstance(parser, Whole):
        return str(parser.low + parser.step), parser.low + parser.step
    if isinstance(parser, Real):
        value = parser.low + (parser.step or 1.0)
        return f"{value:g}", value
    if isinstance(parser, OneOf):
        return links._text(parser.options[1]), parser.options[1]
    return "true", True


@pytest.mark.parametrize(("page", "key", "parser"), REGISTERED, ids=IDS)
def test_every_registered_setting_refuses_values_out_of_its_range(page, key, parser):
    for text in _outside(parser):
        with pytest.raises(CNNLabError):
            links.parse_setting(page, key, text)


@pytest.mark.parametrize(("page", "key", "parser"), REGISTERED, ids=IDS)
def test_every_registered_setting_accepts_a_value_in_range(page, key, parser):
    text, value = _inside(parser)
    assert links.parse_setting(page, key, text) == value


def test_every_linkable_page_is_a_real_page():
    for page in LINKABLE:
        path = ROOT / ("app.py" if page == "app" else f"pages/{page}.py")
        assert path.exists(), f"LINKABLE names {page}, which has no file"


def test_a_refusal_names_the_setting_and_its_range():
    found = links.parse_link("pooling", {"pooling.window": "99", "pooling.mode": "avg"})
    assert found.values == {"pooling.mode": "avg"}
    assert "pooling.window=99: the window is 1 to 6" in found.message


def test_settings_of_other_pages_and_other_parameters_are_left_alone():
    params = {"convolution.stride": "2", "net": "abc", "present": "1", "pooling.stride": "3"}
    found = links.parse_link("pooling", params)
    assert found.values == {"pooling.stride": 3} and not found.problems


def test_a_key_the_page_does_not_register_is_refused():
    found = links.parse_link("pooling", {"pooling.evil": "1", "pooling.__class__": "x"})
    assert found.values == {} and len(found.problems) == 2
    assert "no such setting" in found.message


def test_a_hostile_link_is_refused_quickly_and_without_allocating():
    huge = {f"pooling.k{i}": "9" * 1000 for i in range(10_000)}
    tracemalloc.start()
    start = time.perf_counter()
    found = links.parse_link("pooling", huge)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert found.values == {} and "10000 parameters" in found.message
    assert elapsed < 0.05 and peak < 20_000


def test_a_huge_number_is_refused_before_it_is_converted():
    params = {"pooling.window": "9" * 100_000}
    tracemalloc.start()
    found = links.parse_link("pooling", params)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert found.values == {} and "longer than" in found.message
    assert peak < 20_000


def test_an_unknown_sample_image_is_refused():
    found = links.parse_link("pooling", {"image": "../../etc/passwd"})
    assert found.image is None and "not one of the sample images" in found.message


def test_link_builds_a_relative_url_that_reads_back_the_same():
    url = links.link("pooling", window=3, mode="avg", ceil=True, image="Shape: heart")
    parts = urlsplit(url)
    assert parts.path == "/pooling" and not parts.netloc
    found = links.parse_link("pooling", dict(parse_qsl(parts.query)))
    assert found.values == {"pooling.window": 3, "pooling.mode": "avg", "pooling.ceil": True}
    assert found.image == "Shape: heart" and not found.problems


def test_link_refuses_what_a_page_would_refuse():
    with pytest.raises(CNNLabError, match="pooling.window=99"):
        links.link("pooling", window=99)
    with pytest.raises(CNNLabError, match="no such setting"):
        links.link("pooling", evil=1)
    with pytest.raises(CNNLabError, match="no page"):
        links.link("nowhere")


def test_a_link_sets_the_widgets_of_the_page_it_opens(open_page):
    params = {"pooling.window": "3", "pooling.mode": "avg", "image": "Shape: heart"}
    at = open_page("pooling", query_params=params)
    assert at.slider(key="pooling.window").value == 3
    assert at.radio(key="pooling.mode").value == "avg"
    assert at.session_state["image_name"] == "Shape: heart"
    assert not at.error


def test_a_setting_changed_after_the_link_opened_stays_changed(open_page):
    at = open_page("pooling", query_params={"pooling.window": "3", "pooling.stride": "99"})
    assert "pooling.stride=99" in at.error[0].value
    at.slider(key="pooling.window").set_value(4).run()
    assert at.slider(key="pooling.window").value == 4
    assert not at.exception


WIDGET_KINDS = ("slider", "select_slider", "selectbox", "radio", "number_input", "toggle")


def _widget_keys(at) -> set[str]:
    """The keys of the widgets the page drew (tabs and expanders included)."""
    return {w.key for kind in WIDGET_KINDS for w in at.get(kind)} | {c.key for c in at.checkbox}


def _value_for(parser) -> object:
    return _inside(parser)[1]


LINKED_PAGES = [page for page, keys in LINKABLE.items() if keys and page != "lessons"]


TABBED = {"convolution": TABS}  # pages that draw only the open tab ("<page>.tab" picks it)


@pytest.mark.parametrize("page", LINKED_PAGES)
def test_every_registered_key_is_a_widget_that_takes_the_linked_value(open_page, page):
    wanted = {f"{page}.{key}": _value_for(parser) for key, parser in LINKABLE[page].items()}
    at = open_page(page, query_params={k: links._text(v) for k, v in wanted.items()})
    assert not at.exception and not at.error, [e.value for e in at.error]
    tab_key = f"{page}.tab"
    if tab_key in wanted:  # the link opened its tab
        assert at.session_state[tab_key] == wanted.pop(tab_key)
    seen: set[str] = set()
    for tab in TABBED.get(page, (None,)):
        if tab is not None:
            at.session_state[tab_key] = tab
            at.run()
        widgets = _widget_keys(at)
        for key in wanted.keys() & widgets:
            assert at.session_state[key] == wanted[key], key
            seen.add(key)
    missing = sorted(wanted.keys() - seen)
    assert not missing, f"{missing} are registered but the page has no such widget"


def test_the_same_link_opened_again_after_another_page_sets_the_page_again(open_page):
    link = {"pooling.window": "3"}
    at = open_page("pooling", query_params=link)
    at.slider(key="pooling.window").set_value(5).run()
    at.query_params = {}
    at.switch_page("pages/lessons.py").run()
    at.query_params = dict(link)
    at.switch_page("pages/pooling.py").run()
    assert at.slider(key="pooling.window").value == 3 and not at.exception


def test_copied_options_match_the_widgets_they_come_from():
    from models.operations.kernels import KERNELS
    from ui.panels.train import LR_CHOICES

    assert LINKABLE["convolution"]["kernel"].options == tuple(KERNELS)
    assert LINKABLE["train"]["lr"].options == LR_CHOICES
