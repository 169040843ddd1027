"""What a student sends to the class board, checked and capped: names, titles, settings, curves.

Everything here comes from a student's browser and is shown to the whole class, so it is
untrusted: texts lose control and direction-changing characters and are capped in length,
settings are capped in bytes, and curves in points per run (evenly thinned, ends kept).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from models.errors import CNNLabError
from models.store.schema import NAME_LENGTH, TITLE_LENGTH
from models.training.history import RunRecord

MAX_NAME = NAME_LENGTH  # characters in a display name
MAX_TITLE = TITLE_LENGTH  # characters in a run's or a class's title
MAX_CURVE_POINTS = 200  # epochs kept per curve; longer runs are thinned evenly
MAX_SETTINGS_BYTES = 4_096  # a run's settings as JSON (a settings row is about 600 bytes)
CURVES = ("train_loss", "train_acc", "val_loss", "val_acc")  # what a board curve holds
METRICS = ("validation_accuracy", "val_loss", "train_loss", "train_acc", "epochs_run", "seconds")
_KEEP = {"\u200d"}  # the zero-width joiner inside emoji such as 🧑‍🏫
_SPACES = re.compile(r"\s+")


class SubmissionError(CNNLabError):
    """A name, title or run the board refuses, with the reason."""


def clean_text(text: Any, cap: int, what: str, truncate: bool = False) -> str:
    """`text` with control and format characters removed and spaces collapsed, at most `cap`.

    Longer text is refused (a name someone typed) or, with `truncate`, cut with "…" (a run's
    title taken from its name).
    """
    if not isinstance(text, str):
        raise SubmissionError(f"{what} must be text")
    spaced = _SPACES.sub(" ", text)  # newlines and tabs become one space
    kept = "".join(c for c in spaced if c in _KEEP or not unicodedata.category(c).startswith("C"))
    kept = _SPACES.sub(" ", kept).strip()
    if not kept:
        raise SubmissionError(f"{what} is empty: type at least one letter")
    if len(kept) > cap:
        if not truncate:
            raise SubmissionError(f"{what} is {len(kept)} characters long; at most {cap}")
        kept = kept[: cap - 1].rstrip() + "…"
    return kept


@dataclass(frozen=True)
class BoardCurves:
    """A run's per-epoch figures; None where a figure was not a finite number."""

    epoch: tuple[int, ...] = ()
    train_loss: tuple[float | None, ...] = ()
    train_acc: tuple[float | None, ...] = ()
    val_loss: tuple[float | None, ...] = ()
    val_acc: tuple[float | None, ...] = ()

    def to_json(self) -> str:
        """The curves as one JSON object of lists (null for a missing figure)."""
        return json.dumps(
            {"epoch": list(self.epoch), **{k: list(getattr(self, k)) for k in CURVES}}
        )

    @classmethod
    def from_json(cls, text: str) -> BoardCurves:
        """The curves `to_json` wrote (read back from the app's own database)."""
        raw = json.loads(text)
        return cls(tuple(raw["epoch"]), *(tuple(raw[k]) for k in CURVES))


@dataclass(frozen=True)
class RunSubmission:
    """One run as the board keeps it: a title, its settings, final scores and curves."""

    title: str
    settings: Mapping[str, str]
    metrics: Mapping[str, float | None]
    curves: BoardCurves


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def thin(n: int, cap: int) -> list[int]:
    """Up to `cap` indices of `n` points, evenly spread, the first and the last kept."""
    if n <= cap:
        return list(range(n))
    return sorted({round(i * (n - 1) / (cap - 1)) for i in range(cap)})


def checked(run: RunSubmission) -> RunSubmission:
    """`run` with its title cleaned, its settings and metrics checked, its curves capped."""
    title = clean_text(run.title, MAX_TITLE, "the run's title", truncate=True)
    settings = {
        clean_text(str(k), MAX_TITLE, "a setting's name", truncate=True): str(v)[:MAX_TITLE]
        for k, v in run.settings.items()
    }
    size = len(json.dumps(settings, ensure_ascii=False).encode())
    if size > MAX_SETTINGS_BYTES:
        raise SubmissionError(
            f"the run's settings take {size:,} bytes; "
            f"the board keeps at most {MAX_SETTINGS_BYTES:,}"
        )
    metrics = {k: _finite(run.metrics.get(k)) for k in METRICS}
    return RunSubmission(title, settings, metrics, _capped(run.curves))


def _capped(curves: BoardCurves) -> BoardCurves:
    n = len(curves.epoch)
    if any(len(getattr(curves, k)) != n for k in CURVES):
        raise SubmissionError("the run's curves do not have one figure per epoch")
    keep = thin(n, MAX_CURVE_POINTS)
    return BoardCurves(
        tuple(int(curves.epoch[i]) for i in keep),
        *(tuple(_finite(getattr(curves, k)[i]) for i in keep) for k in CURVES),
    )


def curves_of(history: Sequence[Any]) -> BoardCurves:
    """The epoch reports of a run's history (TrainMetrics) as board curves."""
    epochs = [m for m in history if m.kind == "epoch"]
    return BoardCurves(
        tuple(m.epoch for m in epochs),
        *(tuple(_finite(getattr(m, k)) for m in epochs) for k in CURVES),
    )


def submission_from_record(record: RunRecord) -> RunSubmission:
    """A run of the session's history (Compare runs) as the board will show it."""
    return checked(
        RunSubmission(
            record.label or record.name,
            record.settings_row(),
            dict(record.metrics),
            curves_of(record.history),
        )
    )
