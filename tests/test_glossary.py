"""The glossary: plain definitions, the popover on every page, the searchable list on Home, and
no curriculum question numbers left in what students read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ui import glossary

ROOT = Path(__file__).resolve().parent.parent
PAGE_NAMES = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))
STUDENT_SOURCES = sorted(
    [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py")]
)
# The words issue 20 found unexplained where they appear.
JARGON = [
    "MACs", "stride", "padding", "dilation", "jump", "receptive field", "ceil_mode", "logits",
    "softmax", "ε", "ρ", "batchnorm", "IoU", "one-cycle", "weight decay", "focal loss",
    "saliency map", "Grad-CAM",
]  # fmt: skip
QUESTION_NUMBER = re.compile(
    r"questions?\W{0,4}\**\d|answers?:\s*\**\d"  # "question 51", "answers: 8 (transfer)"
    r"|(?:questions?|answers?)\b[^.]*?\(\d+(?:, \d+)*\)"  # "answers: dropout (24)"
    r"|curriculum questions?|CURRICULUM\.md",
    re.I,
)


def _popover(at):
    return [b for b in at.get("popover") if b.proto.popover.label == "Terms on this page"]


def test_the_glossary_covers_the_jargon_the_issue_names():
    for word in JARGON:
        assert glossary.term(word), word


def test_the_glossary_is_sized_for_the_whole_app():
    assert 50 <= len(glossary.GLOSSARY) <= 100


@pytest.mark.parametrize("key", sorted(glossary.GLOSSARY))
def test_every_definition_is_one_or_two_finished_sentences(key):
    text = glossary.GLOSSARY[key].strip()
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9ε])", text)
    assert text and text.endswith(".") and len(sentences) <= 2, text


def test_a_term_is_found_by_its_full_name_its_short_name_or_its_symbol():
    assert glossary.lookup("ε") == glossary.lookup("epsilon") == glossary.lookup("ε (epsilon)")
    assert glossary.lookup("Spearman's rho") == glossary.lookup("ρ")
    assert glossary.lookup("iou") == "IoU (intersection over union)"
    assert glossary.term("skip") == glossary.GLOSSARY["residual connection (skip)"]


def test_an_unknown_term_is_refused_with_its_name():
    with pytest.raises(KeyError, match="hyperspace"):
        glossary.term("hyperspace")


def test_search_finds_a_word_in_names_and_definitions_alphabetically():
    found = glossary.matching("STRIDE ")
    assert "stride" in found and "jump" in found  # jump's definition mentions stride
    assert found == sorted(found, key=str.casefold)
    assert glossary.matching("") == sorted(glossary.GLOSSARY, key=str.casefold)
    assert glossary.matching("zebra crossing") == []


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_every_page_draws_its_popover_of_terms_that_exist(name):
    source = (ROOT / "pages" / f"{name}.py").read_text(encoding="utf-8")
    assert f'glossary.popover_for("{name}")' in source, f"pages/{name}.py needs its popover"
    terms = glossary.PAGE_TERMS.get(name)
    assert terms, f"ui/glossary.py's PAGE_TERMS needs the terms of pages/{name}.py"
    for word in terms:
        glossary.lookup(word)  # raises KeyError naming the missing term


def test_no_page_lists_terms_for_a_page_that_does_not_exist():
    assert set(glossary.PAGE_TERMS) <= set(PAGE_NAMES)


@pytest.mark.parametrize("path", STUDENT_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_student_text_shows_curriculum_question_numbers(path):
    hits = QUESTION_NUMBER.findall(path.read_text(encoding="utf-8"))
    assert not hits, f"{path.relative_to(ROOT)}: say the concept instead of {hits}"


def test_the_pooling_page_shows_its_terms_in_a_popover(open_page):
    at = open_page("pooling")
    popover = _popover(at)
    assert len(popover) == 1
    text = " ".join(m.value for m in popover[0].markdown)
    assert "**ceil_mode**" in text and glossary.GLOSSARY["stride"] in text


def _glossary_text(at) -> str:
    section = next(e for e in at.expander if e.label.startswith("Glossary"))
    return " ".join(m.value for m in section.markdown)


def test_the_home_glossary_filters_as_the_student_types(open_page):
    at = open_page()
    assert all(f"**{key}**" in _glossary_text(at) for key in glossary.GLOSSARY)
    at.text_input(key="home.glossary").set_value("dilation").run()
    shown = _glossary_text(at)
    assert "**dilation**" in shown and "**softmax**" not in shown
    at.text_input(key="home.glossary").set_value("zebra crossing").run()
    assert "zebra crossing" in at.info[0].value
