"""Every formula the app shows with numbers in it, and its value, from one expression.

A formula is a small expression tree. The same tree is written out three ways: in LaTeX with
letters (the rule), in LaTeX with the layer's own numbers (the rule applied), and as Python
arithmetic (`Formula.expr`, using only floor and ceil) that tests evaluate and compare with
PyTorch. The value printed after the last "=" is the tree evaluated exactly (fractions, not
floats): the number on screen is always what the written expression gives.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from models.network.spec import LayerSpec

Value = int | float | Fraction


@dataclass(frozen=True)
class Formula:
    """A quantity's rule, the rule with numbers, Python arithmetic for tests, and the value.

    Every text is written from one expression tree when first asked for, and so is the value.
    """

    name: str  # LaTeX of what is computed, e.g. "O"; "" for a bare sum
    tree: _Node = field(repr=False)
    real: bool = False  # measured real numbers inside: the value is a float

    @cached_property
    def value(self) -> Value:
        """The tree evaluated exactly: an int, a Fraction when not whole, a float when real."""
        exact = Fraction(_val(self.tree))
        if self.real:
            return float(exact)
        return int(exact) if exact.denominator == 1 else exact

    @cached_property
    def symbols(self) -> str:
        """LaTeX: the rule in letters."""
        return _render(self.tree, "tex", "symbols")

    @cached_property
    def numbers(self) -> str:
        """LaTeX: the same rule with this layer's numbers."""
        return _render(self.tree, "tex", "numbers")

    @cached_property
    def steps(self) -> str:
        """LaTeX: roundings and brackets worked out; "" when that adds nothing."""
        if not any(isinstance(x, _Round | _Ge) for x in _walk(self.tree)):
            return ""
        steps = _render(self.tree, "tex", "steps")
        return "" if steps == self.numbers else steps

    @cached_property
    def expr(self) -> str:
        """`numbers` as Python arithmetic (floor, ceil, comparisons), for tests to evaluate."""
        return _render(self.tree, "py", "numbers")

    @cached_property
    def symbols_text(self) -> str:
        return _render(self.tree, "text", "symbols")

    @cached_property
    def numbers_text(self) -> str:
        return _render(self.tree, "text", "numbers")

    @property
    def latex(self) -> str:
        """name = rule = rule with numbers = worked out = value (repeats left out)."""
        return _chain([self.name, self.symbols, self.numbers, self.steps, _tex_value(self.value)])

    @property
    def display(self) -> str:
        """`latex` for the page: one line when short, else one step per line, aligned on "="."""
        if not self.name or len(self.latex) <= 90:
            return self.latex
        value = _tex_value(self.value)
        rows = (
            [self.symbols, self.numbers, self.steps] if self.steps else [self.symbols, self.numbers]
        )
        rows = [r for i, r in enumerate(rows) if r and (i == 0 or r != rows[i - 1])]
        rows[-1] = _chain([rows[-1], value])
        body = r" \\ &= ".join(rows)
        return rf"\begin{{aligned}} {self.name} &= {body} \end{{aligned}}"

    @property
    def text(self) -> str:
        """The rule, the rule with numbers and the value as plain text."""
        return _chain([self.symbols_text, self.numbers_text, _text_value(self.value)])

    @property
    def rule(self) -> str:
        """LaTeX of the number-free rule: name = symbols."""
        return _chain([self.name, self.symbols])


def _chain(parts: list[str]) -> str:
    kept: list[str] = []
    for part in parts:
        if part and (not kept or part != kept[-1]):
            kept.append(part)
    return " = ".join(kept)


# ---- the expression tree ------------------------------------------------------------------

ATOM, SUM, PRODUCT, POWER = 9, 1, 2, 3


@dataclass(frozen=True)
class _Var:
    symbol: str  # LaTeX; a constant's symbol is its own digits
    value: int | float
    plain: str = ""  # plain-text symbol when it differs from the LaTeX one

    @property
    def constant(self) -> bool:
        return self.symbol == str(self.value)


@dataclass(frozen=True)
class _Op:
    op: str  # "+", "-", "*" or "^"
    a: _Node
    b: _Node


@dataclass(frozen=True)
class _Frac:
    top: _Node
    bottom: _Node


@dataclass(frozen=True)
class _Round:
    up: bool  # ceil, else floor
    arg: _Node


@dataclass(frozen=True)
class _Ge:
    """An Iverson bracket [a ≥ b]: 1 when true, else 0."""

    a: _Node
    b: _Node


@dataclass(frozen=True)
class _Sum:
    terms: tuple[_Node, ...]
    shown: int  # LaTeX and text cut the sum after this many terms; `expr` keeps them all


_Node = _Var | _Op | _Frac | _Round | _Ge | _Sum
_PREC = {"+": SUM, "-": SUM, "*": PRODUCT, "^": POWER}


def _val(n: _Node) -> int | Fraction:
    """Exact value: whole numbers stay ints, a division or a real number makes a Fraction."""
    match n:
        case _Var():
            return n.value if isinstance(n.value, int) else Fraction(n.value)
        case _Op(op="+"):
            return _val(n.a) + _val(n.b)
        case _Op(op="-"):
            return _val(n.a) - _val(n.b)
        case _Op(op="*"):
            return _val(n.a) * _val(n.b)
        case _Op(op="^"):
            return _val(n.a) ** int(_val(n.b))
        case _Frac():
            return Fraction(_val(n.top)) / _val(n.bottom)
        case _Round():
            return math.ceil(_val(n.arg)) if n.up else math.floor(_val(n.arg))
        case _Ge():
            return int(_val(n.a) >= _val(n.b))
        case _Sum():
            return sum((_val(t) for t in n.terms), 0)
    raise TypeError(n)


def _prec(n: _Node, style: str) -> int:
    if isinstance(n, _Op):
        return _PREC[n.op]
    if isinstance(n, _Sum):
        return SUM
    if isinstance(n, _Frac) and style != "tex":
        return PRODUCT  # a/b in Python and plain text; \frac is an atom in LaTeX
    return ATOM


def _num(value: Value, style: str) -> str:
    """A number as shown: whole numbers plainly, others to 4 significant digits (exact in py)."""
    if isinstance(value, Fraction) and value.denominator != 1:
        if style == "tex":
            sign = "-" if value < 0 else ""
            return rf"{sign}\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"
        return f"{value.numerator}/{value.denominator}"
    if style == "py":
        text = repr(float(value)) if isinstance(value, float) else str(int(value))
    elif float(value) == round(float(value)):
        text = str(int(round(float(value))))
    else:
        text = f"{float(value):.4g}"
    if style == "text":
        text = text.replace("-", "−")
    return f"({text})" if float(value) < 0 else text


def _render(n: _Node, style: str, mode: str) -> str:
    """style: "tex", "text" or "py"; mode: "symbols", "numbers" or "steps"."""

    def r(child: _Node) -> str:
        return _render(child, style, mode)

    match n:
        case _Var():
            if mode == "symbols" and not n.constant:
                return n.plain or n.symbol if style == "text" else n.symbol
            return _num(n.value, style)
        case _Op():
            return _render_op(n, style, mode)
        case _Frac():
            if style == "tex":
                return rf"\frac{{{r(n.top)}}}{{{r(n.bottom)}}}"
            return f"{_wrap(n.top, style, mode, PRODUCT)}/{_wrap(n.bottom, style, mode, ATOM)}"
        case _Round():
            inner = _num(_val(n.arg), style) if mode == "steps" and style != "py" else r(n.arg)
            if style == "py":
                return f"{'ceil' if n.up else 'floor'}({inner})"
            if style == "text":
                return f"⌈{inner}⌉" if n.up else f"⌊{inner}⌋"
            left, right = (r"\lceil", r"\rceil") if n.up else (r"\lfloor", r"\rfloor")
            return rf"\left{left} {inner} \right{right}"
        case _Ge():
            if mode == "steps" and style != "py":
                a, b = _num(_val(n.a), style), _num(_val(n.b), style)
            else:
                a, b = r(n.a), r(n.b)
            sign = {"py": ">=", "text": "≥", "tex": r"\ge"}[style]
            return f"({a} {sign} {b})" if style == "py" else f"[{a} {sign} {b}]"
        case _Sum():
            terms = [r(t) for t in n.terms]
            if style != "py" and len(terms) > n.shown:
                more = len(terms) - n.shown
                tail = rf"\dots ({more}\text{{ more}})" if style == "tex" else f"… ({more} more)"
                terms = [*terms[: n.shown], tail]
            return " + ".join(terms)
    raise TypeError(n)


def _wrap(n: _Node, style: str, mode: str, need: int) -> str:
    text = _render(n, style, mode)
    return f"({text})" if _prec(n, style) < need else text


def _render_op(n: _Op, style: str, mode: str) -> str:
    p = _PREC[n.op]
    if n.op == "^":
        base, exp = _wrap(n.a, style, mode, ATOM), _render(n.b, style, mode)
        if style == "tex":
            return f"{base}^{{{exp}}}"
        return f"{base}**{exp}" if style == "py" else f"{base}{'²' if exp == '2' else '^' + exp}"
    a, b = _wrap(n.a, style, mode, p), _wrap(n.b, style, mode, p + (n.op == "-"))
    if n.op == "*":
        return f"{a}{_times(n, b, style, mode)}{b}"
    return f"{a} {'−' if style == 'text' and n.op == '-' else n.op} {b}"


def _times(n: _Op, b: str, style: str, mode: str) -> str:
    """In letters, factors stand side by side (2P, D(K−1)); numbers get a dot."""
    if style == "py":
        return "*"
    dot = r"\cdot " if style == "tex" else "·"
    constants = [isinstance(x, _Var) and x.constant for x in (n.a, n.b)]
    if mode != "symbols" or all(constants):
        return dot
    if constants[0] or b.startswith("("):
        return ""
    return r"\," if style == "tex" else "·"


def _formula(name: str, tree: _Node) -> Formula:
    return Formula(name, tree)


def _walk(n: _Node) -> Iterator[_Node]:
    yield n
    match n:
        case _Op() | _Ge():
            yield from _walk(n.a)
            yield from _walk(n.b)
        case _Frac():
            yield from _walk(n.top)
            yield from _walk(n.bottom)
        case _Round():
            yield from _walk(n.arg)
        case _Sum():
            for t in n.terms:
                yield from _walk(t)


def _tex_value(value: Value) -> str:
    if isinstance(value, Fraction):
        return f"{_num(value, 'tex')} = {float(value):.2f}"
    return _num(value, "tex").strip("()")


def _text_value(value: Value) -> str:
    if isinstance(value, Fraction):
        return f"{_num(value, 'text')} = {float(value):.2f}"
    return _num(value, "text").strip("()")


# ---- building blocks ----------------------------------------------------------------------


def _v(symbol: str, value: int | float, plain: str = "") -> _Var:
    return _Var(symbol, value, plain)


def _c(value: int | float) -> _Var:
    return _Var(str(value), value)


def _add(a: _Node, b: _Node) -> _Op:
    return _Op("+", a, b)


def _sub(a: _Node, b: _Node) -> _Op:
    return _Op("-", a, b)


def _mul(*factors: _Node) -> _Node:
    out = factors[0]
    for f in factors[1:]:
        out = _Op("*", out, f)
    return out


def _padding(p: int | tuple[int, int]) -> _Node:
    if isinstance(p, tuple):
        return _add(_v("P_L", p[0]), _v("P_R", p[1]))
    return _mul(_c(2), _v("P", p))


def _span(k: int, d: int) -> _Node:
    """D(K − 1): how far the last tap of a dilated kernel sits from the first."""
    return _mul(_v("D", d), _sub(_v("K", k), _c(1)))


def _reach(w: int, k: int, p: int | tuple[int, int], d: int, pool: bool = False) -> _Node:
    """W + 2P − D(K−1) − 1: room for the window's first cell to move (W + 2P − K for pools)."""
    padded = _add(_v("W", w), _padding(p))
    if pool and d == 1:
        return _sub(padded, _v("K", k))
    return _sub(_sub(padded, _span(k, d)), _c(1))


# ---- sizes --------------------------------------------------------------------------------


def conv_output_size(
    w: int, k: int, s: int = 1, p: int | tuple[int, int] = 0, d: int = 1
) -> Formula:
    """conv2d's output length along one side; `p` is (left, right) when the two differ."""
    return _formula("O", _add(_Round(False, _Frac(_reach(w, k, p, d), _v("S", s))), _c(1)))


def pool_output_size(w: int, k: int, s: int, p: int, ceil_mode: bool, d: int = 1) -> Formula:
    """max_pool2d's (and avg_pool2d's) output length along one side.

    With ceil_mode PyTorch rounds up, then drops a last window that would start in the right
    padding: the bracket [⌈…⌉·S ≥ W + P] is 1 exactly then.
    """
    windows = _Round(ceil_mode, _Frac(_reach(w, k, p, d, pool=True), _v("S", s)))
    tree: _Node = _add(windows, _c(1))
    if ceil_mode:
        tree = _sub(tree, _Ge(_mul(windows, _v("S", s)), _add(_v("W", w), _v("P", p))))
    return _formula("O", tree)


def last_window_dropped(w: int, k: int, s: int, p: int, d: int = 1) -> bool:
    """Whether ceil_mode's rounded-up last window would start in the right padding (and go)."""
    windows = math.ceil(Fraction(w + 2 * p - d * (k - 1) - 1, s))
    return windows * s >= w + p


def transposed_output_size(
    w: int, k: int, s: int = 1, p: int = 0, d: int = 1, output_padding: int = 0
) -> Formula:
    """conv_transpose2d's output length along one side."""
    grown = _sub(_mul(_sub(_v("W", w), _c(1)), _v("S", s)), _mul(_c(2), _v("P", p)))
    tree = _add(_add(_add(grown, _span(k, d)), _v("P_{out}", output_padding, "P_out")), _c(1))
    return _formula("O", tree)


def same_padding(k: int, d: int = 1) -> tuple[Formula, Formula]:
    """padding="same": D(K−1) cells in all, ⌊half⌋ on the left and the rest on the right."""
    half = _Round(False, _Frac(_span(k, d), _c(2)))
    return _formula("P_L", half), _formula("P_R", _sub(_span(k, d), half))


def textbook_output_size(w: int, k: int, s: int, p: int) -> Formula:
    """The textbook (W − K + 2P)/S + 1, unrounded, to show when it is not a whole number."""
    top = _add(_sub(_v("W", w), _v("K", k)), _mul(_c(2), _v("P", p)))
    return _formula("O", _add(_Frac(top, _v("S", s)), _c(1)))


def cells_past_last_window(w: int, k: int, s: int, p: int | tuple[int, int], d: int = 1) -> int:
    """Input cells at the far edge beyond every window, because the division rounded down.

    The last window ends (W + P_L + P_R − D(K−1) − 1) mod S cells before the padded end; the
    last P_R of those are padding. (Cells skipped between a dilated kernel's taps not counted.)
    """
    left, right = p if isinstance(p, tuple) else (p, p)
    reach = w + left + right - d * (k - 1) - 1
    return min(max(0, reach % s - right), w) if reach >= 0 else 0


def rounding_note(
    w: int, k: int, s: int, p: int | tuple[int, int], d: int = 1, ceil_mode: bool = False
) -> str:
    """What PyTorch's rounding did to the output size, in words; "" when the division is exact."""
    left, right = p if isinstance(p, tuple) else (p, p)
    reach = w + left + right - d * (k - 1) - 1
    if reach < 0 or reach % s == 0:
        return ""
    if ceil_mode and last_window_dropped(w, k, s, left, d):
        last = math.ceil(Fraction(reach, s)) * s
        return (
            f"With ceil_mode PyTorch rounds {reach}/{s} up, then drops that last window: it "
            f"would start at cell {last} of the padded side (from 0), and {last} ≥ W + P = "
            f"{w + left} puts it in the right padding. So the size is what rounding down gives."
        )
    if ceil_mode:
        return (
            f"With ceil_mode PyTorch rounds {reach}/{s} up: the last window hangs over the far "
            "edge and pools only the cells it covers."
        )
    lost = cells_past_last_window(w, k, s, p, d)
    fate = (
        f"so the last {lost} cell(s) of this side are never read by any window"
        if lost
        else "which here drops only padding, not input cells"
    )
    return f"PyTorch rounds {reach}/{s} down, {fate}."


def dilated_extent(k: int, d: int) -> Formula:
    """The span of a dilated kernel: D(K − 1) + 1."""
    return _formula(r"K_{\mathrm{eff}}", _add(_span(k, d), _c(1)))


# ---- parameters, work and vector lengths --------------------------------------------------


def _bias(bias: bool) -> _Var:
    return _v("b", int(bias))


def conv_params(k: int, c_in: int, c_out: int, groups: int = 1, bias: bool = True) -> Formula:
    """A conv layer's weights and biases: (K²·C_in/g + b)·C_out, b = 1 with a bias."""
    per_filter = _mul(
        _Op("^", _v("K", k), _c(2)), _Frac(_v("C_{in}", c_in, "C_in"), _v("g", groups))
    )
    return _formula("N", _mul(_add(per_filter, _bias(bias)), _v("C_{out}", c_out, "C_out")))


def conv_macs(h_out: int, w_out: int, c_out: int, k: int, c_in: int, groups: int = 1) -> Formula:
    """Multiply-accumulates of a conv layer: one per weight at every output position."""
    factors = (
        _v("H_{out}", h_out, "H_out"),
        _v("W_{out}", w_out, "W_out"),
        _v("C_{out}", c_out, "C_out"),
        _Op("^", _v("K", k), _c(2)),
        _Frac(_v("C_{in}", c_in, "C_in"), _v("g", groups)),
    )
    return _formula(r"\mathrm{MACs}", _mul(*factors))


def linear_params(n_in: int, n_out: int, bias: bool = True) -> Formula:
    """A dense layer's weights and biases: (n_in + b)·n_out."""
    n_i, n_o = _v("n_{in}", n_in, "n_in"), _v("n_{out}", n_out, "n_out")
    return _formula("N", _mul(_add(n_i, _bias(bias)), n_o))


def dense_params(n_in: int, n_out: int) -> Formula:
    """A dense layer joining every input value to every output value, plus a bias each."""
    n_i, n_o = _v("n_{in}", n_in, "n_in"), _v("n_{out}", n_out, "n_out")
    return _formula("N", _add(_mul(n_i, n_o), n_o))


def flatten_size(shape: tuple[int, ...]) -> Formula:
    """How many numbers flatten lays out in a row: C·H·W."""
    names = ("C", "H", "W") if len(shape) == 3 else tuple(f"n_{i}" for i in range(len(shape)))
    return _formula("n", _mul(*(_v(n, v) for n, v in zip(names, shape, strict=True))))


def pyramid_length(channels: int, levels: tuple[int, ...]) -> Formula:
    """Spatial pyramid pooling's vector length: C·(n₁² + n₂² + …), one n×n grid per level."""
    squares = tuple(_Op("^", _v(f"n_{i + 1}", n, f"n{i + 1}"), _c(2)) for i, n in enumerate(levels))
    return _formula("L", _mul(_v("C", channels), _Sum(squares, len(squares))))


def weighted_sum(values: np.ndarray, weights: np.ndarray, bias: float, shown: int = 16) -> Formula:
    """One output of a convolution: each value times its weight, summed, plus the bias."""
    pairs = zip(np.ravel(values).tolist(), np.ravel(weights).tolist(), strict=True)
    terms = tuple(_mul(_c(_plain(x)), _c(_plain(t))) for x, t in pairs)
    return Formula("", _add(_Sum(terms, shown), _c(_plain(bias))), real=True)


def _plain(x: float) -> int | float:
    x = float(x)
    return int(x) if x.is_integer() else x


# ---- receptive fields ---------------------------------------------------------------------


def receptive_field_step(r_prev: int, k: int, d: int, j_prev: int) -> Formula:
    """Araujo et al. (Distill, 2019): r_l = r_{l−1} + (k_l − 1)·d_l·j_{l−1}."""
    grow = _mul(_sub(_v("k_l", k, "k"), _c(1)), _v("d_l", d, "d"), _v("j_{l-1}", j_prev, "j"))
    return _formula("r_l", _add(_v("r_{l-1}", r_prev, "r"), grow))


def jump_step(j_prev: int, s: int) -> Formula:
    """The jump (input pixels between neighbouring units) multiplies by the stride."""
    return _formula("j_l", _mul(_v("j_{l-1}", j_prev, "j"), _v("s_l", s, "s")))


def layer_windows(layer: LayerSpec) -> tuple[tuple[int, int, int], ...]:
    """The (kernel, dilation, stride) windows a layer stacks, in order, for its receptive field.

    Branches are represented by their widest path; layers that keep the field give none.
    """
    # imported here so that models.network.spec (conv_out, pool_out) can call this module
    from models.network.spec import CBAMSpec, ConvSpec, InceptionSpec, PoolSpec, ResidualSpec

    match layer:
        case ConvSpec():
            return ((layer.kernel_size, layer.dilation, layer.stride),)
        case PoolSpec():
            return ((layer.kernel_size, 1, layer.step),)
        case ResidualSpec():
            return ((3, 1, layer.stride), (3, 1, 1))
        case InceptionSpec():
            return ((5, 1, 1),)
        case CBAMSpec():
            return ((layer.spatial_kernel, 1, 1),)
    return ()


def field_steps(layer: LayerSpec, r: int, j: int) -> list[tuple[Formula, Formula]]:
    """The receptive field and jump formulas of each window of `layer`, from (r, j) before it."""
    steps = []
    for k, d, s in layer_windows(layer):
        size, jump = receptive_field_step(r, k, d, j), jump_step(j, s)
        steps.append((size, jump))
        r, j = int(size.value), int(jump.value)
    return steps


# ---- the rules in letters, for "Go deeper" ------------------------------------------------

CONV_SIZE_RULE = conv_output_size(1, 1).rule
TRANSPOSED_SIZE_RULE = transposed_output_size(1, 1).rule
POOL_SIZE_RULE = pool_output_size(1, 1, 1, 0, False).rule
POOL_CEIL_SIZE_RULE = pool_output_size(1, 1, 1, 0, True).rule
FIELD_RULE = receptive_field_step(1, 1, 1, 1).rule
JUMP_RULE = jump_step(1, 1).rule
