"""The toy network's forward and backward passes as a list of steps, one cell each.

Each step says which cell is computed, its rule, the rule with the numbers in (from the hand
formulas), the value autograd found, and which cells of which grids take part (`Mark`s), so a
page can light them up. Grids ("panels") are named after their tensors: x, w, b, z, a, p, V, c,
s, L forward; dw, db, dz, da, dp, dV, ds for the gradients ∂L/∂(that tensor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.inspect.backprop import CONV, OUT, POOL, Backprop

SHAPES = {
    **{"x": (5, 5), "w": (3, 3), "b": (1, 1), "z": (3, 3), "a": (3, 3), "p": (2, 2)},
    **{"V": (2, 4), "c": (2, 1), "s": (2, 1), "L": (1, 1)},
    **{"dw": (3, 3), "db": (1, 1), "dz": (3, 3), "da": (3, 3), "dp": (2, 2)},
    **{"dV": (2, 4), "ds": (2, 1)},
}
FORWARD, BACKWARD = ("z", "a", "p", "s", "L"), ("ds", "dV", "dp", "da", "dz", "dw", "db")
GIVEN = ("x", "w", "b", "V", "c")  # known before the first step
# A click on a grid opens the step that computes it; a click on a weight opens its gradient.
CLICK_TO_KIND = {k: k for k in FORWARD + BACKWARD} | {"w": "dw", "b": "db", "V": "dV", "c": "ds"}
NAMES = {"z": "conv", "a": "ReLU", "p": "max pool", "s": "logits", "L": "loss"}


@dataclass(frozen=True)
class Mark:
    """One cell to outline: focus (being computed), source (feeds it), flow (where its
    gradient goes next) or faint (looked at, but contributes nothing)."""

    panel: str
    row: int
    col: int
    style: str


@dataclass(frozen=True)
class StepView:
    """One step: what is computed, its rule, the worked numbers, and the two values."""

    index: int
    kind: str  # "start" or a key of FORWARD/BACKWARD
    cell: tuple[int, int]
    rule: str  # LaTeX
    worked: str  # LaTeX, the rule with this cell's numbers
    hand: float | None  # by the hand formula
    autograd: float | None  # by PyTorch (forward value or autograd gradient)
    marks: tuple[Mark, ...]
    sentence: str = ""


def all_steps() -> list[tuple[str, int, int]]:
    """Every step in order: the start, each forward cell, then each gradient cell."""
    cells = [("start", 0, 0)]
    for kind in FORWARD + BACKWARD:
        h, w = SHAPES[kind]
        cells += [(kind, r, c) for r in range(h) for c in range(w)]
    return cells


STEPS = all_steps()


def cell_name(kind: str, r: int, c: int) -> str:
    """How the page writes a cell: z[1,2], ∂L/∂w[0,1], L."""
    h, w = SHAPES[kind]
    base = f"∂L/∂{kind[1:]}" if kind in BACKWARD else kind
    if (h, w) == (1, 1):
        return base
    return f"{base}[{r}]" if w == 1 else f"{base}[{r},{c}]"


def step_label(index: int) -> str:
    """A line for the step menu, e.g. '23 · backward · ∂L/∂p[0,1]'."""
    kind, r, c = STEPS[index]
    if kind == "start":
        return "0 · the numbers"
    part = "forward" if kind in FORWARD else "backward"
    return f"{index} · {part} · {cell_name(kind, r, c)}"


def step_for_click(panel: str, r: int, c: int) -> int | None:
    """The step a click on a grid cell opens, or None for a cell with no step (the input)."""
    kind = CLICK_TO_KIND.get(panel)
    return None if kind is None else STEPS.index((kind, r, c))


def revealed(index: int) -> dict[str, np.ndarray]:
    """Which cells of each grid are known after `index` steps (True: show its number)."""
    shown = {k: np.full(shape, k in GIVEN) for k, shape in SHAPES.items()}
    for kind, r, c in STEPS[1 : index + 1]:
        shown[kind][r, c] = True
    return shown


def _n(v: float) -> str:
    """A number for a formula: 4 significant digits, round-off zeros as 0, negatives bracketed."""
    v = 0.0 if abs(v) < 1e-12 else float(v)
    text = f"{v:.4g}"
    return f"({text})" if v < 0 else text


def _r(v: float) -> str:
    """A result: like `_n` but without brackets."""
    return _n(v).strip("()")


def _sum(terms: list[str]) -> str:
    return " + ".join(terms) if terms else "0"


def explain(bp: Backprop, index: int) -> StepView:
    """The step `index` of the toy network `bp`: rule, numbers and cells to light up."""
    kind, r, c = STEPS[index]
    if kind == "start":
        return StepView(
            index, kind, (0, 0), r"\text{given: } x,\ w,\ b,\ V,\ c,\ y", "", None, None, ()
        )
    rule, worked, hand, marks, sentence = _EXPLAIN[kind](bp, r, c)
    auto = {"ds": "s", "dV": "V", "dp": "p", "da": "a", "dz": "z", "dw": "w", "db": "b"}
    source = bp.grads[auto[kind]] if kind in auto else bp.values[kind]
    autograd = float(np.asarray(source).reshape(SHAPES[kind])[r, c])
    focus = Mark(kind, r, c, "focus")
    return StepView(index, kind, (r, c), rule, worked, hand, autograd, (focus, *marks), sentence)


Explained = tuple[str, str, float, list[Mark], str]


def _z(bp: Backprop, r: int, c: int) -> Explained:
    net, marks = bp.net, [Mark("b", 0, 0, "source")]
    terms = []
    for i in range(3):
        for j in range(3):
            terms.append(f"{_n(net.w[i, j])}\\cdot{_n(net.x[r + i, c + j])}")
            marks += [Mark("x", r + i, c + j, "source"), Mark("w", i, j, "source")]
    hand = float(bp.hand["z"][r, c])
    worked = f"z_{{{r},{c}}} = {_sum(terms)} + {_n(net.b)} = {_r(hand)}"
    rule = r"z_{r,c} = \sum_{i,j} w_{i,j}\, x_{r+i,\,c+j} + b"
    return rule, worked, hand, marks, "Nine products of a weight and the input under it, plus b."


def _a(bp: Backprop, r: int, c: int) -> Explained:
    z, hand = float(bp.hand["z"][r, c]), float(bp.hand["a"][r, c])
    worked = f"a_{{{r},{c}}} = \\max({_n(z)},\\ 0) = {_r(hand)}"
    said = "z is positive: ReLU keeps it." if z > 0 else "z is negative: ReLU makes it 0."
    return r"a = \max(z, 0)", worked, hand, [Mark("z", r, c, "source")], said


def _window(r: int, c: int) -> list[tuple[int, int]]:
    return [(r + i, c + j) for i in range(POOL) for j in range(POOL)]


def _p(bp: Backprop, r: int, c: int) -> Explained:
    win, a = bp.winners[r][c], bp.hand["a"]
    cells = _window(r, c)
    marks = [Mark("a", i, j, "source" if (i, j) == win else "faint") for i, j in cells]
    hand = float(bp.hand["p"][r, c])
    worked = f"p_{{{r},{c}}} = \\max({', '.join(_n(a[ij]) for ij in cells)}) = {_r(hand)}"
    rule = r"p_{r,c} = \max_{0 \le i,j \le 1} a_{r+i,\,c+j}"
    return rule, worked, hand, marks, f"The winner of this 2×2 window is a[{win[0]},{win[1]}]."


def _s(bp: Backprop, k: int, _: int) -> Explained:
    net, p = bp.net, bp.hand["p"].ravel()
    terms = [f"{_n(net.V[k, n])}\\cdot{_n(p[n])}" for n in range(OUT * OUT)]
    marks = [Mark("V", k, n, "source") for n in range(4)] + [Mark("c", k, 0, "source")]
    marks += [Mark("p", n // OUT, n % OUT, "source") for n in range(4)]
    hand = float(bp.hand["s"][k])
    worked = f"s_{k} = {_sum(terms)} + {_n(net.c[k])} = {_r(hand)}"
    rule = r"s_k = \sum_n V_{k,n}\, p_n + c_k \quad (p \text{ read row by row})"
    return rule, worked, hand, marks, "The pooled map, flattened, goes through a linear layer."


def _loss(bp: Backprop, _: int, __: int) -> Explained:
    s, y, hand = bp.hand["s"], bp.net.y, float(bp.hand["L"])
    worked = (
        f"L = -\\log\\frac{{e^{{{_n(s[y])}}}}}{{e^{{{_n(s[0])}}} + e^{{{_n(s[1])}}}}} = {_r(hand)}"
    )
    rule = r"L = -\log \operatorname{softmax}(s)_y"
    prob = bp.hand["probs"][y]
    said = f"Cross-entropy with the target class y = {y}: its probability is {prob:.3f}."
    return rule, worked, hand, [Mark("s", 0, 0, "source"), Mark("s", 1, 0, "source")], said


def _ds(bp: Backprop, k: int, _: int) -> Explained:
    prob, hand, y = float(bp.hand["probs"][k]), float(bp.hand["ds"][k]), bp.net.y
    worked = f"\\partial L/\\partial s_{k} = {_n(prob)} - {int(k == y)} = {_r(hand)}"
    rule = r"\partial L/\partial s_k = \operatorname{softmax}(s)_k - [k = y]"
    return (
        rule,
        worked,
        hand,
        [Mark("s", k, 0, "source"), Mark("c", k, 0, "focus")],
        (f"The same number is ∂L/∂c[{k}], since c[{k}] is added straight into s[{k}]."),
    )


def _dv(bp: Backprop, k: int, n: int) -> Explained:
    ds, p, hand = bp.hand["ds"][k], bp.hand["p"].ravel()[n], float(bp.hand["dV"][k, n])
    worked = f"\\partial L/\\partial V_{{{k},{n}}} = {_n(ds)}\\cdot{_n(p)} = {_r(hand)}"
    marks = [Mark("ds", k, 0, "source"), Mark("p", n // OUT, n % OUT, "source")]
    rule = r"\partial L/\partial V_{k,n} = \partial L/\partial s_k \cdot p_n"
    return rule, worked, hand, [*marks, Mark("V", k, n, "focus")], ""


def _dp(bp: Backprop, r: int, c: int) -> Explained:
    n, net, ds = r * OUT + c, bp.net, bp.hand["ds"]
    hand = float(bp.hand["dp"][r, c])
    terms = [f"{_n(net.V[k, n])}\\cdot{_n(ds[k])}" for k in range(2)]
    worked = f"\\partial L/\\partial p_{{{r},{c}}} = {_sum(terms)} = {_r(hand)}"
    marks = [Mark("ds", k, 0, "source") for k in range(2)] + [
        Mark("V", k, n, "source") for k in (0, 1)
    ]
    win = bp.winners[r][c]
    marks += [Mark("da", i, j, "flow" if (i, j) == win else "faint") for i, j in _window(r, c)]
    open_ = bp.hand["z"][win] > 0
    marks.append(Mark("dz", *win, "flow" if open_ else "faint"))
    w0, w1 = win
    said = f"Backward, it goes only to a[{w0},{w1}], the winner of its window; "
    if open_:
        marks += [Mark("x", w0 + i, w1 + j, "flow") for i in range(3) for j in range(3)]
        said += (
            f"z[{w0},{w1}] = {bp.hand['z'][win]:.4g} > 0, so ReLU lets it through, and every "
            "weight then gets it times the input patch under that cell (dashed)."
        )
    else:
        said += f"z[{w0},{w1}] = {bp.hand['z'][win]:.4g} < 0, so ReLU stops it there."
    rule = r"\partial L/\partial p_n = \sum_k V_{k,n}\, \partial L/\partial s_k"
    return rule, worked, hand, marks, said


def _da(bp: Backprop, r: int, c: int) -> Explained:
    won, lost, terms = [], [], []
    for i in range(OUT):
        for j in range(OUT):
            if (r, c) in _window(i, j):
                (won if bp.winners[i][j] == (r, c) else lost).append((i, j))
    terms = [_n(bp.hand["dp"][ij]) for ij in won]
    hand = float(bp.hand["da"][r, c])
    worked = f"\\partial L/\\partial a_{{{r},{c}}} = {_sum(terms)} = {_r(hand)}"
    marks = [Mark("dp", *ij, "source") for ij in won] + [Mark("dp", *ij, "faint") for ij in lost]
    said = (
        f"a[{r},{c}] wins {len(won)} of the {len(won) + len(lost)} windows that hold it; "
        "only those send their gradient back."
    )
    rule = (
        r"\partial L/\partial a_{r,c} = \sum_{\text{windows won by } (r,c)} \partial L/\partial p"
    )
    return rule, worked, hand, marks, said


def _dz(bp: Backprop, r: int, c: int) -> Explained:
    z, da, hand = float(bp.hand["z"][r, c]), float(bp.hand["da"][r, c]), float(bp.hand["dz"][r, c])
    worked = f"\\partial L/\\partial z_{{{r},{c}}} = {_n(da)}\\cdot[{_n(z)} > 0] = {_r(hand)}"
    style = "source" if z > 0 else "faint"
    said = "ReLU passes the gradient: z > 0." if z > 0 else "ReLU blocks the gradient: z < 0."
    rule = r"\partial L/\partial z = \partial L/\partial a \cdot [z > 0]"
    return rule, worked, hand, [Mark("da", r, c, style), Mark("z", r, c, style)], said


def _dw(bp: Backprop, i: int, j: int) -> Explained:
    dz, x, terms, marks = bp.hand["dz"], bp.net.x, [], [Mark("w", i, j, "focus")]
    for r in range(CONV):
        for c in range(CONV):
            terms.append(f"{_n(dz[r, c])}\\cdot{_n(x[r + i, c + j])}")
            style = "source" if abs(dz[r, c]) > 0 else "faint"
            marks += [Mark("x", r + i, c + j, style), Mark("dz", r, c, style)]
    hand = float(bp.hand["dw"][i, j])
    worked = f"\\partial L/\\partial w_{{{i},{j}}} = {_sum(terms)} = {_r(hand)}"
    live = int((np.abs(dz) > 0).sum())
    said = (
        f"w[{i},{j}] touched one input in each of the 9 patches (outlined); {live} of them "
        "have a non-zero ∂L/∂z and count."
    )
    rule = r"\partial L/\partial w_{i,j} = \sum_{r,c} \partial L/\partial z_{r,c}\, x_{r+i,\,c+j}"
    return rule, worked, hand, marks, said


def _db(bp: Backprop, _: int, __: int) -> Explained:
    dz, hand = bp.hand["dz"], float(bp.hand["db"][0])
    worked = f"\\partial L/\\partial b = {_sum([_n(v) for v in dz.ravel()])} = {_r(hand)}"
    marks = [Mark("dz", r, c, "source") for r in range(CONV) for c in range(CONV)]
    marks.append(Mark("b", 0, 0, "focus"))
    return (
        r"\partial L/\partial b = \sum_{r,c} \partial L/\partial z_{r,c}",
        worked,
        hand,
        marks,
        "",
    )


_EXPLAIN: dict[str, Callable[[Backprop, int, int], Explained]] = {
    **{"z": _z, "a": _a, "p": _p, "s": _s, "L": _loss},
    **{"ds": _ds, "dV": _dv, "dp": _dp, "da": _da, "dz": _dz, "dw": _dw, "db": _db},
}
