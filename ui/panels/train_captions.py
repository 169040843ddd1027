"""The Train page's captions: each figure's key numbers, in words, computed from the same
values the figure draws (issue 21: a text equivalent beside every figure)."""

from __future__ import annotations

from collections.abc import Sequence

from models.training.engine import TrainMetrics


def curves_caption(history: Sequence[TrainMetrics]) -> str:
    """The curves' key numbers: the latest training loss and accuracy, the last validation
    scores, and the best validation accuracy with its epoch."""
    steps = [h for h in history if h.kind == "step"]
    epochs = [h for h in history if h.kind == "epoch"]
    if not steps and not epochs:
        return "The curves start with the first training steps."
    parts = []
    if steps:
        m = steps[-1]
        parts.append(
            f"Step {m.step:,}: training loss {m.train_loss:.3f}, accuracy {m.train_acc:.1%}."
        )
    if epochs:
        last = epochs[-1]
        best = max(epochs, key=lambda h: h.val_acc if h.val_acc == h.val_acc else -1.0)
        parts.append(
            f"Validation after epoch {last.epoch}: loss {last.val_loss:.3f}, accuracy "
            f"{last.val_acc:.1%}; best {best.val_acc:.1%} after epoch {best.epoch}."
        )
    return " ".join(parts)


def lr_caption(lrs: list[float], schedule: str, per_epoch: int) -> str:
    """The plan's key numbers, from the rates the figure draws: the schedule, the first rate,
    the highest (and its step, counted from 0 as on the figure's axis) and the last."""
    if not lrs:
        return f"Schedule: {schedule}; the run has no steps."
    peak = max(range(len(lrs)), key=lrs.__getitem__)  # the first step at the highest rate
    plan = f"Schedule: {schedule}, {len(lrs)} steps ({per_epoch} per epoch). "
    if max(lrs) == min(lrs):
        return plan + f"Learning rate {lrs[0]:.3g} at every step."
    highest = " (the highest)," if peak == 0 else f", highest {lrs[peak]:.3g} at step {peak},"
    return (
        plan + f"Learning rate {lrs[0]:.3g} at the first step{highest} {lrs[-1]:.3g} at the last."
    )


def prediction_caption(probs: list[float], names: tuple[str, ...] | list[str]) -> str:
    """The prediction figure's numbers: the top answer and the runner-up, with probabilities."""
    ranked = sorted(range(len(probs)), key=lambda i: -probs[i])
    top = f"Top answer: {names[ranked[0]]} ({probs[ranked[0]]:.1%})"
    if len(ranked) < 2:
        return top + "."
    return top + f"; next: {names[ranked[1]]} ({probs[ranked[1]]:.1%})."
