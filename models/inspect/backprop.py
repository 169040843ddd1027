"""Backpropagation on a toy network small enough to follow cell by cell, and gradient checking.

The network: a 5×5 input x, one 3×3 convolution (weights w, bias b), ReLU, a 2×2 max pool with
stride 1 (so the windows overlap), the pooled 2×2 map flattened into a linear layer with two
logits (weights V, biases c) and cross-entropy against a target class y. PyTorch's autograd
gives every number (`retain_grad` on each intermediate); `hand_backprop` recomputes them with
the chain rule written out in NumPy, so the page can set the two side by side. The gradient
check compares autograd with central differences (L(θ + h) − L(θ − h)) / 2h for every weight.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from models.errors import CNNLabError

SIDE, K, POOL = 5, 3, 2  # input side, kernel side, pool window (stride 1)
CONV, OUT = SIDE - K + 1, SIDE - K + 1 - POOL + 1  # 3×3 conv map, 2×2 pooled map
N_PARAMS = K * K + 1 + 2 * OUT * OUT + 2  # w, b, V, c: 20 numbers
MARGIN = 0.05  # no pre-activation this close to 0, no max-pool tie this close: clean derivatives
STEP_SIZES = tuple(10.0 ** -(k / 2) for k in range(2, 21))  # 1e-1 … 1e-10, half decades
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class BackpropError(CNNLabError):
    """A request the toy network refuses, with a reason a student can read."""


@dataclass(frozen=True)
class ToyNet:
    """The numbers of the toy network: integers and one-decimal weights, drawn from a seed."""

    seed: int
    x: np.ndarray  # (5, 5) input, small integers
    w: np.ndarray  # (3, 3) conv weights, one decimal
    b: float  # conv bias
    V: np.ndarray  # (2, 4) linear weights from the flattened pooled map to two logits
    c: np.ndarray  # (2,) linear biases
    y: int  # the target class, 0 or 1

    def theta(self) -> np.ndarray:
        """Every trainable number in one vector: w (9), b, V (8), c (2)."""
        return np.concatenate([self.w.ravel(), [self.b], self.V.ravel(), self.c])


PARAM_NAMES = (
    [f"w[{i},{j}]" for i in range(K) for j in range(K)]
    + ["b"]
    + [f"V[{k},{n}]" for k in range(2) for n in range(OUT * OUT)]
    + ["c[0]", "c[1]"]
)


def sample_net(seed: int) -> ToyNet:
    """Seeded, readable numbers, redrawn until every derivative is clean (no kink, no tie)."""
    if not 0 <= seed <= 1_000_000:
        raise BackpropError("the seed must be a whole number from 0 to 1,000,000")
    g = torch.Generator().manual_seed(seed)
    for _ in range(500):
        net = ToyNet(
            seed=seed,
            x=torch.randint(-1, 4, (SIDE, SIDE), generator=g).double().numpy(),
            w=torch.randint(-5, 6, (K, K), generator=g).double().numpy() / 10,
            b=float(torch.randint(-5, 6, (1,), generator=g)) / 10,
            V=torch.randint(-9, 10, (2, OUT * OUT), generator=g).double().numpy() / 10,
            c=torch.randint(-5, 6, (2,), generator=g).double().numpy() / 10,
            y=int(torch.randint(0, 2, (1,), generator=g)),
        )
        if is_clean(net):
            return net
    raise BackpropError(f"no clean set of numbers found for seed {seed}; try another seed")


def is_clean(net: ToyNet) -> bool:
    """True when no pre-activation is near 0, no positive pool window has a near tie, at least
    three conv cells are positive, and every pooled cell gets a gradient that reaches w."""
    z = _hand_conv(net.x, net.w, net.b)
    if np.abs(z).min() < MARGIN or (z > 0).sum() < 3:
        return False
    a = np.maximum(z, 0)
    for r in range(OUT):
        for c in range(OUT):
            top = np.sort(a[r : r + POOL, c : c + POOL].ravel())[::-1]
            if top[0] > 0 and top[0] - top[1] < MARGIN:
                return False
    # V's two rows must differ in every column, or that ∂L/∂p is 0 (∂L/∂s_0 = −∂L/∂s_1).
    return bool(np.all(net.V[0] != net.V[1])) and np.abs(hand_backprop(net)["dw"]).max() > 0.01


def forward(theta: torch.Tensor, x: torch.Tensor, y: int) -> dict[str, torch.Tensor]:
    """The network for a batch of parameter vectors θ (B, 20): every intermediate, batched.

    Uses PyTorch's own layers (a grouped conv runs B weight sets at once); returns z, a (B, 3, 3),
    p (B, 2, 2), s (B, 2) logits and L (B,) losses.
    """
    n = theta.shape[0]
    w = theta[:, : K * K].reshape(n, 1, K, K)
    b, v, c = theta[:, K * K], theta[:, K * K + 1 : -2].reshape(n, 2, -1), theta[:, -2:]
    z = F.conv2d(x.reshape(1, 1, SIDE, SIDE).expand(1, n, SIDE, SIDE), w, b, groups=n)[0]
    a = F.relu(z)
    p = F.max_pool2d(a.unsqueeze(0), POOL, stride=1)[0]  # (B, 2, 2)
    s = torch.einsum("bkn,bn->bk", v, p.reshape(n, -1)) + c
    loss = F.cross_entropy(s, torch.full((n,), y, dtype=torch.long), reduction="none")
    return {"z": z, "a": a, "p": p, "s": s, "L": loss}


@dataclass(frozen=True)
class Backprop:
    """Forward values and gradients by autograd, and the same by the hand formulas."""

    net: ToyNet
    values: dict[str, np.ndarray]  # z, a, p, s, L, probs
    grads: dict[str, np.ndarray]  # ∂L/∂ of s, p, a, z, w, b, V, c (autograd)
    hand: dict[str, np.ndarray]  # the same keys, values and gradients, by the hand formulas
    winners: tuple[tuple[tuple[int, int], ...], ...]  # (2, 2) winning (row, col) in a


def compute_backprop(net: ToyNet) -> Backprop:
    """Run the toy network forward and backward in float64 with autograd, and by hand."""
    theta = torch.tensor(net.theta()[None], dtype=torch.float64, requires_grad=True)
    out = forward(theta, torch.tensor(net.x), net.y)
    for name in ("z", "a", "p", "s"):
        out[name].retain_grad()
    out["L"].sum().backward()
    g = theta.grad[0].numpy()
    grads = {name: out[name].grad[0].numpy().copy() for name in ("z", "a", "p", "s")}
    grads.update(w=g[: K * K].reshape(K, K), b=g[K * K : K * K + 1], V=g[K * K + 1 : -2])
    grads.update(V=grads["V"].reshape(2, -1), c=g[-2:])
    values = {name: t.detach()[0].numpy().copy() for name, t in out.items()}
    values["probs"] = torch.softmax(out["s"].detach()[0], 0).numpy()
    hand = hand_backprop(net)
    return Backprop(net, values, grads, hand, hand_winners(hand["a"]))


def _hand_conv(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """z[r, c] = Σ_ij w[i, j]·x[r + i, c + j] + b, as loops."""
    return np.array(
        [[np.sum(w * x[r : r + K, c : c + K]) + b for c in range(CONV)] for r in range(CONV)]
    )


def hand_winners(a: np.ndarray) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Each pool window's winner in a: the first largest cell in reading order (as PyTorch)."""
    rows = []
    for r in range(OUT):
        row = []
        for c in range(OUT):
            i, j = divmod(int(np.argmax(a[r : r + POOL, c : c + POOL])), POOL)
            row.append((r + i, c + j))
        rows.append(tuple(row))
    return tuple(rows)


def hand_backprop(net: ToyNet) -> dict[str, np.ndarray]:
    """Forward values and every gradient by the chain rule written out, no autograd."""
    z = _hand_conv(net.x, net.w, net.b)
    a = np.maximum(z, 0)
    win = hand_winners(a)
    p = np.array([[a[win[r][c]] for c in range(OUT)] for r in range(OUT)])
    s = net.V @ p.ravel() + net.c
    probs = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    ds = probs - np.eye(2)[net.y]  # softmax minus one-hot
    dp = (net.V.T @ ds).reshape(OUT, OUT)
    da = np.zeros_like(a)
    for r in range(OUT):
        for c in range(OUT):
            da[win[r][c]] += dp[r, c]  # the max pool routes δ to its winner only
    dz = da * (z > 0)  # ReLU passes δ only where its input was positive
    dw = np.array(
        [[np.sum(dz * net.x[i : i + CONV, j : j + CONV]) for j in range(K)] for i in range(K)]
    )
    return {
        "z": z,
        "a": a,
        "p": p,
        "s": s,
        "probs": probs,
        "L": np.array(-np.log(probs[net.y])),
        "ds": ds,
        "dV": np.outer(ds, p.ravel()),
        "dc": ds,
        "dp": dp,
        "da": da,
        "dz": dz,
        "dw": dw,
        "db": np.array([dz.sum()]),
    }


@dataclass(frozen=True)
class GradCheck:
    """Autograd against central differences for all 20 weights, at every step size."""

    dtype: str
    steps: tuple[float, ...]
    autograd: np.ndarray  # (20,)
    numeric: np.ndarray  # (len(steps), 20)
    rel_error: np.ndarray  # (len(steps),) ‖numeric − autograd‖ / (‖numeric‖ + ‖autograd‖)

    @property
    def best(self) -> tuple[float, float]:
        """The step size with the smallest relative error, and that error."""
        i = int(np.argmin(self.rel_error))
        return self.steps[i], float(self.rel_error[i])


def gradient_check(net: ToyNet, dtype: str, steps: tuple[float, ...] = STEP_SIZES) -> GradCheck:
    """Central differences for every weight and step size, all in one batched forward pass."""
    if dtype not in DTYPES:
        raise BackpropError(f"the number type must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if not steps or min(steps) <= 0:
        raise BackpropError("step sizes must be positive numbers")
    dt = DTYPES[dtype]
    x, theta = torch.tensor(net.x, dtype=dt), torch.tensor(net.theta(), dtype=dt)
    auto_theta = theta[None].clone().requires_grad_(True)
    forward(auto_theta, x, net.y)["L"].sum().backward()
    autograd = auto_theta.grad[0].double().numpy()
    eye = torch.eye(N_PARAMS, dtype=dt)
    h = torch.tensor(steps, dtype=dt).reshape(-1, 1, 1)
    batch = torch.cat(
        [(theta + h * eye).reshape(-1, N_PARAMS), (theta - h * eye).reshape(-1, N_PARAMS)]
    )
    with torch.no_grad():
        loss = forward(batch, x, net.y)["L"].reshape(2, len(steps), N_PARAMS)
    numeric = ((loss[0] - loss[1]) / (2 * h[:, :, 0])).double().numpy()
    diff = np.linalg.norm(numeric - autograd, axis=1)
    scale = np.linalg.norm(numeric, axis=1) + np.linalg.norm(autograd)
    return GradCheck(dtype, tuple(steps), autograd, numeric, diff / np.maximum(scale, 1e-300))


def grid_values(bp: Backprop) -> dict[str, np.ndarray]:
    """Every grid the page draws, by name: forward values and autograd gradients (dX = ∂L/∂X)."""
    net, v, g = bp.net, bp.values, bp.grads
    col = lambda a: np.asarray(a, dtype=float).reshape(-1, 1)  # noqa: E731
    return {
        **{"x": net.x, "w": net.w, "b": col([net.b]), "z": v["z"], "a": v["a"], "p": v["p"]},
        **{"V": net.V, "c": col(net.c), "s": col(v["s"]), "L": col([v["L"]])},
        **{"dw": g["w"], "db": col(g["b"]), "dz": g["z"], "da": g["a"], "dp": g["p"]},
        **{"dV": g["V"], "ds": col(g["s"])},
    }


def largest_disagreement(bp: Backprop) -> float:
    """The largest gap between an autograd number and its hand-formula twin."""
    pairs = [(bp.values[k], bp.hand[k]) for k in ("z", "a", "p", "s", "L")]
    pairs += [(bp.grads[k], bp.hand[f"d{k}"]) for k in ("s", "V", "p", "a", "z", "w", "b")]
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(h)))) for a, h in pairs)


def to_json(bp: Backprop) -> str:
    """The numbers, forward values and every gradient (autograd and hand), as JSON."""
    payload = {
        "seed": bp.net.seed,
        "target_class": bp.net.y,
        "grids": {k: np.round(v, 12).tolist() for k, v in grid_values(bp).items()},
        "hand": {k: np.round(np.asarray(v), 12).tolist() for k, v in bp.hand.items()},
    }
    return json.dumps(payload, indent=1)


def check_csv(checks: list[GradCheck]) -> str:
    """One row per number type, step size and weight: autograd, central difference, gap."""
    lines = ["dtype,step,weight,autograd,central_difference,abs_error"]
    for check in checks:
        for h, row in zip(check.steps, check.numeric, strict=True):
            for name, auto, num in zip(PARAM_NAMES, check.autograd, row, strict=True):
                lines.append(
                    f"{check.dtype},{h:.1e},{name},{auto:.17g},{num:.17g},{abs(num - auto):.3e}"
                )
    return "\n".join(lines) + "\n"
