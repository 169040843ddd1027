"""The frame's safety net: a refusal shows its sentence, a bug a short apology, never a trace."""

from __future__ import annotations

import logging

import pytest
from streamlit.testing.v1 import AppTest

SCRIPT = """
from ui.frame import install_safety_net
from models.errors import CNNLabError
import streamlit as st

install_safety_net()
st.write("before")
kind = st.session_state.get("kind", "bug")
if kind == "refusal":
    raise CNNLabError("this network needs 8.5 GB of memory for one image")
if kind == "bug":
    {}["missing"]
if kind == "fragment":
    @st.fragment
    def part():
        raise RuntimeError("inside a fragment")
    part()
"""


def _run(kind: str) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=30)
    at.session_state["kind"] = kind
    return at.run()


@pytest.fixture(autouse=True)
def _production_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CNNLAB_DEBUG", raising=False)


def test_a_refusal_is_shown_as_its_own_sentence_without_a_traceback() -> None:
    at = _run("refusal")
    assert not at.exception
    assert [e.value for e in at.error] == ["this network needs 8.5 GB of memory for one image"]


@pytest.mark.parametrize("kind", ["bug", "fragment"])
def test_a_bug_becomes_an_apology_with_a_reference_and_the_trace_goes_to_the_log(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="cnnlab"):
        at = _run(kind)
    assert not at.exception
    (message,) = [e.value for e in at.error]
    assert message.startswith("Sorry, something went wrong")
    assert "KeyError" not in message and "RuntimeError" not in message
    ref = message.split("**")[1]
    logged = [r for r in caplog.records if ref in r.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_in_debug_mode_the_exception_is_also_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNLAB_DEBUG", "1")
    at = _run("bug")
    assert at.exception and at.error
