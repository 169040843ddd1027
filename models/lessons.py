"""Lessons as data: TOML files of steps, each a page to open and often a question to answer.

The format is described in lessons/README.md. `parse_lesson` checks a file field by field and
raises LessonError naming the line (for TOML syntax) or the field (for content). A number the
app can compute (an output size, a parameter count) is not typed into the file: the answer
names a computation from `COMPUTATIONS` with its arguments, and the checker computes it here.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.errors import CNNLabError
from models.network import formulas

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
MAX_FILE_BYTES = 64_000  # a lesson of 30 long steps is about 15 kB
MAX_STEPS = 30
MAX_TEXT = 1_500  # characters of one text field
MAX_CHOICES = 8
MAX_ARG = 100_000  # largest number a computation accepts, so nothing big is ever computed
Number = int | float


class LessonError(CNNLabError):
    """A lesson file that cannot be used, with the line or field at fault."""


@dataclass(frozen=True)
class Worked:
    """A computed answer: its value and how it was worked out (LaTeX)."""

    value: float
    latex: str


@dataclass(frozen=True)
class Computation:
    """A number the app computes, and the arguments it takes (name -> "int"|"float"|"ints")."""

    function: Callable[..., Worked]
    args: dict[str, str]
    required: tuple[str, ...]


def _formula(f: formulas.Formula) -> Worked:
    return Worked(float(f.value), f.display)


def _receptive_field(kernels: list[int], strides: list[int] | None = None) -> Worked:
    """A stack's receptive field: r grows by (k − 1)·j per layer, j by the stride."""
    strides = strides or [1] * len(kernels)
    if len(strides) != len(kernels):
        raise LessonError("receptive_field: give as many strides as kernels")
    r, j, steps = 1, 1, []
    for k, s in zip(kernels, strides, strict=True):
        step = formulas.receptive_field_step(r, k, 1, j)
        r, j = int(step.value), int(formulas.jump_step(j, s).value)
        steps.append(f"{step.numbers} = {r}")
    return Worked(float(r), r"r:\quad " + r" \;\to\; ".join(steps))


def _pool_winner(side: int, seed: int, k: int, s: int, row: int = 0, col: int = 0) -> Worked:
    """The value that wins max pooling's output (row, col) on the Pooling page's number grid."""
    from models.operations import pooling

    grid = pooling.pool_grid(pooling.sample_grid(side, seed), pooling.PoolSettings("max", k, s))
    if not (0 <= row < grid.output.shape[0] and 0 <= col < grid.output.shape[1]):
        raise LessonError(f"pool_winner: the pooled grid has no cell ({row}, {col})")
    cells = ", ".join(f"{grid.grid[r, c]:g}" for r, c in grid.cells(row, col))
    value = float(grid.output[row, col])
    return Worked(value, rf"\max({cells}) = {value:g}")


def _cross_entropy(p: float) -> Worked:
    return Worked(-math.log(p), rf"-\ln {p:g} = {-math.log(p):.3f}")


def _focal_factor(p: float, gamma: float) -> Worked:
    """How many times smaller focal loss is than cross-entropy at probability p: 1/(1 − p)^γ."""
    factor = 1 / (1 - p) ** gamma
    return Worked(factor, rf"\frac{{1}}{{(1 - {p:g})^{{{gamma:g}}}}} = {factor:.4g}")


def _majority_accuracy(ratio: float, classes: int = 2) -> Worked:
    """Accuracy, in %, of always answering the common class when it is `ratio` times the rest."""
    share = 100 * ratio / (ratio + classes - 1)
    return Worked(
        share, rf"100 \cdot \frac{{{ratio:g}}}{{{ratio:g} + {classes - 1}}} = {share:.1f}\%"
    )


def _stack_params(k: int, channels: int, layers: int, bias: int = 0) -> Worked:
    one = formulas.conv_params(k, channels, channels, bias=bool(bias))
    total = layers * int(one.value)
    return Worked(float(total), rf"{layers} \times ({one.numbers}) = {total:,}".replace(",", r"\,"))


COMPUTATIONS: dict[str, Computation] = {
    "conv_output_size": Computation(
        lambda w, k, s=1, p=0, d=1: _formula(formulas.conv_output_size(w, k, s, p, d)),
        {"w": "int", "k": "int", "s": "int", "p": "int", "d": "int"},
        ("w", "k"),
    ),
    "pool_output_size": Computation(
        lambda w, k, s, p=0, ceil=0: _formula(formulas.pool_output_size(w, k, s, p, bool(ceil))),
        {"w": "int", "k": "int", "s": "int", "p": "int", "ceil": "int"},
        ("w", "k", "s"),
    ),
    "dilated_extent": Computation(
        lambda k, d: _formula(formulas.dilated_extent(k, d)), {"k": "int", "d": "int"}, ("k", "d")
    ),
    "conv_params": Computation(
        lambda k, c_in, c_out, groups=1, bias=1: _formula(
            formulas.conv_params(k, c_in, c_out, groups, bool(bias))
        ),
        {"k": "int", "c_in": "int", "c_out": "int", "groups": "int", "bias": "int"},
        ("k", "c_in", "c_out"),
    ),
    "conv_stack_params": Computation(
        _stack_params,
        {"k": "int", "channels": "int", "layers": "int", "bias": "int"},
        ("k", "channels", "layers"),
    ),
    "dense_params": Computation(
        lambda n_in, n_out: _formula(formulas.dense_params(n_in, n_out)),
        {"n_in": "int", "n_out": "int"},
        ("n_in", "n_out"),
    ),
    "flatten_size": Computation(
        lambda c, h, w: _formula(formulas.flatten_size((c, h, w))),
        {"c": "int", "h": "int", "w": "int"},
        ("c", "h", "w"),
    ),
    "receptive_field": Computation(
        _receptive_field, {"kernels": "ints", "strides": "ints"}, ("kernels",)
    ),
    "pool_winner": Computation(
        _pool_winner,
        {"side": "int", "seed": "int", "k": "int", "s": "int", "row": "int", "col": "int"},
        ("side", "seed", "k", "s"),
    ),
    "cross_entropy": Computation(_cross_entropy, {"p": "probability"}, ("p",)),
    "focal_factor": Computation(
        _focal_factor, {"p": "probability", "gamma": "float"}, ("p", "gamma")
    ),
    "majority_accuracy": Computation(
        _majority_accuracy, {"ratio": "float", "classes": "int"}, ("ratio",)
    ),
}


def _check_arg(where: str, kind: str, value: object) -> object:
    """One computation argument, checked against its kind and `MAX_ARG`."""
    if kind == "ints":
        ok = isinstance(value, list) and 0 < len(value) <= 50
        if ok and all(_check_arg(where, "int", v) is not None for v in value):
            return list(value)
        raise LessonError(f"{where} must be a list of 1 to 50 whole numbers")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        raise LessonError(f"{where} must be a whole number")
    if not number or not 0 <= value <= MAX_ARG:
        raise LessonError(f"{where} must be a number from 0 to {MAX_ARG:,}")
    if kind == "probability" and not 0 < value < 1:
        raise LessonError(f"{where} must be a probability above 0 and below 1")
    return value


def compute(name: str, args: dict[str, object], where: str = "answer") -> Worked:
    """Run a registered computation on checked arguments; LessonError names what is wrong."""
    if name not in COMPUTATIONS:
        raise LessonError(f"{where}.compute: {name!r} is not one of: {', '.join(COMPUTATIONS)}")
    c = COMPUTATIONS[name]
    unknown = [a for a in args if a not in c.args]
    missing = [a for a in c.required if a not in args]
    if unknown or missing:
        wrong = f"unknown {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
        raise LessonError(f"{where}.args for {name}: {wrong} (it takes {', '.join(c.args)})")
    checked = {a: _check_arg(f"{where}.args.{a}", c.args[a], v) for a, v in args.items()}
    try:
        return c.function(**checked)
    except (ValueError, ZeroDivisionError, ArithmeticError) as err:
        raise LessonError(f"{where}: {name} cannot be computed from these ({err})") from None


@dataclass(frozen=True)
class Question:
    """Predict, then reveal: a choice among `choices`, or a number within `tolerance`."""

    ask: str
    explain: str
    choices: tuple[str, ...]  # empty for a number question
    answer: str | float  # the right choice, or the number (computed ones are computed on load)
    tolerance: float = 0.0
    working: str = ""  # LaTeX of how a computed answer was worked out

    def check(self, given: str | float | None) -> bool:
        """Whether `given` is right (None, an unanswered question, is not)."""
        if given is None:
            return False
        if self.choices:
            return given == self.answer
        return abs(float(given) - float(self.answer)) <= self.tolerance + 1e-9


@dataclass(frozen=True)
class Step:
    """One page opened with its settings, what to look at, and an optional question."""

    title: str
    page: str  # a file name in pages/, without .py
    look: str
    settings: tuple[tuple[str, object], ...] = ()  # widget keys less the page prefix
    image: str | None = None  # a sample image's name
    preset: str | None = None  # a network preset's name
    question: Question | None = None


@dataclass(frozen=True)
class Lesson:
    id: str  # the file name without .toml
    title: str
    minutes: int
    about: str
    steps: tuple[Step, ...]


def _text(table: dict, key: str, where: str, required: bool = True) -> str | None:
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise LessonError(f"{where}.{key} must be some text")
    if len(value) > MAX_TEXT:
        raise LessonError(f"{where}.{key} is longer than {MAX_TEXT:,} characters")
    return value.strip()


def _table(value: object, where: str, known: set[str] | None = None) -> dict:
    """A TOML table; with `known`, one that holds no other field."""
    if not isinstance(value, dict):
        raise LessonError(f"{where} must be a table")
    if known is not None and (unknown := sorted(set(value) - known)):
        raise LessonError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(known)})")
    return value


def _question(value: object, where: str) -> Question:
    q = _table(value, where, {"ask", "explain", "choices", "answer", "tolerance"})
    ask, explain = _text(q, "ask", where), _text(q, "explain", where)
    answer, choices = q.get("answer"), q.get("choices", [])
    if not isinstance(choices, list) or len(choices) == 1 or len(choices) > MAX_CHOICES:
        raise LessonError(f"{where}.choices must be a list of 2 to {MAX_CHOICES} texts, or absent")
    if choices:
        if not all(isinstance(c, str) and c.strip() for c in choices):
            raise LessonError(f"{where}.choices must all be texts")
        if answer not in choices:
            raise LessonError(f"{where}.answer must be one of the choices, word for word")
        return Question(ask, explain, tuple(choices), answer)
    tolerance = q.get("tolerance", 0)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
        raise LessonError(f"{where}.tolerance must be a number, 0 or more")
    working = ""
    if isinstance(answer, dict):
        spec = _table(answer, f"{where}.answer", {"compute", "args"})
        args = _table(spec.get("args", {}), f"{where}.answer.args")
        worked = compute(str(spec.get("compute")), args, f"{where}.answer")
        answer, working = worked.value, worked.latex
    elif isinstance(answer, bool) or not isinstance(answer, int | float):
        raise LessonError(f"{where}.answer must be a number, a choice or {{compute = ...}}")
    return Question(ask, explain, (), float(answer), float(tolerance), working)


def _step(value: object, where: str) -> Step:
    known = {"title", "page", "look", "settings", "image", "preset", "question"}
    s = _table(value, where, known)
    page = _text(s, "page", where)
    if not page.replace("_", "").isalnum() or not page.isascii():
        raise LessonError(f'{where}.page must be a page\'s file name, such as "pooling"')
    settings = _table(s.get("settings", {}), f"{where}.settings")
    for key, v in settings.items():
        if not isinstance(v, str | int | float | bool):
            raise LessonError(f"{where}.settings.{key} must be a number, text, true or false")
    q = s.get("question")
    return Step(
        _text(s, "title", where),
        page,
        _text(s, "look", where),
        tuple(settings.items()),
        _text(s, "image", where, required=False),
        _text(s, "preset", where, required=False),
        None if q is None else _question(q, f"{where}.question"),
    )


def parse_lesson(text: str, lesson_id: str = "lesson") -> Lesson:
    """A lesson from TOML text; LessonError names the line or the field that is wrong."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise LessonError(f"a lesson file is at most {MAX_FILE_BYTES // 1000} kB")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise LessonError(f"the file is not valid TOML: {err}") from None
    doc = _table(doc, "the lesson", {"title", "minutes", "about", "steps"})
    minutes, steps = doc.get("minutes"), doc.get("steps")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 120:
        raise LessonError("minutes must be a whole number from 1 to 120")
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        raise LessonError(f"a lesson needs 1 to {MAX_STEPS} [[steps]]")
    return Lesson(
        lesson_id,
        _text(doc, "title", "the lesson"),
        minutes,
        _text(doc, "about", "the lesson"),
        tuple(_step(s, f"step {i}") for i, s in enumerate(steps, 1)),
    )


def builtin_ids() -> list[str]:
    """The shipped lessons' ids, in their order (the files are named 1_convolution.toml ...)."""
    return [p.stem for p in sorted(LESSONS_DIR.glob("*.toml"))]


def load_builtin(lesson_id: str) -> Lesson:
    """A shipped lesson by its id."""
    if lesson_id not in builtin_ids():
        raise LessonError(f"there is no lesson {lesson_id!r}")
    return parse_lesson((LESSONS_DIR / f"{lesson_id}.toml").read_text("utf-8"), lesson_id)
