"""The Regularization page's pieces: the three prepared comparisons (predict, run, read the
curves, reveal) and the activation statistics with and without batchnorm."""

from __future__ import annotations

import csv
import io

import plotly.graph_objects as go
import streamlit as st

from models.training.experiments import INITS
from models.training.regularization import (
    COMPARISONS,
    ArmSummary,
    Comparison,
    answer,
    fresh_stats,
    plan_comparison,
    summarize,
    trained_stats,
)
from ui import lab, results
from ui.lab import LabResults
from viz.regularization import curves_figure, histograms_figure, stats_figure

PAGE = "regularization"
TRAINED = "regularization.trained_bn"  # the batchnorm comparison's models, by arm label
FRESH = "fresh (untrained)"


def comparison_controls() -> Comparison:
    """The comparison menu, the arms in words, the prediction and the run button."""
    name = st.selectbox("Comparison", list(COMPARISONS), key="regularization.comparison")
    comp = COMPARISONS[name]
    arms = comp.arms()
    st.caption(f"{arms[0].setup.describe()}; the runs: {', '.join(a.label for a in arms)}.")
    lab.predict(comp.key, comp.question, [a.label for a in arms])
    lab.run_button(comp.key, f"Run the {len(arms)} runs", lambda: plan_comparison(name))
    return comp


def _summaries(res: LabResults) -> dict[str, ArmSummary]:
    out = {}
    for label, runs in res.histories().items():
        s = summarize(runs[0]) if runs else None
        if s is not None:
            out[label] = s
    return out


def show(comp: Comparison) -> None:
    """Live loss curves while the runs train, then the marked curves, the reveal and a CSV."""

    def results_view(res: LabResults) -> None:
        summaries = _summaries(res)
        if not summaries:
            st.warning("No run got through a first epoch, so there is nothing to compare.")
            return
        if comp.key == "regularization.bn":
            st.session_state[TRAINED] = {
                k: r[0].bundle for k in res.handles if (r := res.results(k))
            }
        st.plotly_chart(curves_figure(res.histories()), key=f"{comp.key}.curves")
        st.caption(_curve_caption(summaries))
        lab.reveal(res.guess, answer(comp.pick, summaries), EXPLAIN[comp.key](summaries))
        st.download_button(
            "Download the curves (CSV)",
            _csv(res),
            file_name=f"{comp.key}.csv",
            mime="text/csv",
            key=f"{comp.key}.download",
        )

    lab.watch(comp.key, results_view, metric="loss", split="both")


def _curve_caption(summaries: dict[str, ArmSummary]) -> str:
    parts = [
        f"{k}: best epoch {s.best_epoch} (val loss {s.best_val_loss:.2f}), ended at "
        f"{s.last_val_loss:.2f} after epoch {s.last_epoch}"
        for k, s in summaries.items()
    ]
    return "Dashed: training loss; solid: validation loss; ★ the lowest validation loss. " + (
        "; ".join(parts) + "."
    )


def _csv(res: LabResults) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["run", "epoch", "train_loss", "train_acc", "val_loss", "val_acc"])
    for label, runs in res.histories().items():
        for m in (m for h in runs for m in h if m.kind == "epoch"):
            writer.writerow([label, m.epoch, m.train_loss, m.train_acc, m.val_loss, m.val_acc])
    return buf.getvalue()


def _explain_overfit(s: dict[str, ArmSummary]) -> str:
    none = s.get("none")
    best = answer("lowest kept validation loss", s)
    text = []
    if none is not None and none.rise > 0.05:
        text.append(
            f"Without any remedy the validation loss was lowest at epoch {none.best_epoch} "
            f"({none.best_val_loss:.2f}) and climbed to {none.last_val_loss:.2f} by epoch "
            f"{none.last_epoch}, while the training loss fell to {none.last_train_loss:.2f}: "
            "the network memorised its few images."
        )
    elif none is not None:
        text.append(
            f"Without any remedy the validation loss barely rose ({none.best_val_loss:.2f} at "
            f"best, {none.last_val_loss:.2f} at the end): this run did not overfit much."
        )
    ref = f" against {none.kept_val_loss:.2f} with none" if none and best != "none" else ""
    text.append(f"**{best}** kept the lowest validation loss ({s[best].kept_val_loss:.2f}{ref}).")
    early = next((k for k in s if k.startswith("early")), None)
    if early:
        e = s[early]
        stopped = e.last_epoch < (none.last_epoch if none else e.last_epoch + 1)
        when = f"stopped after epoch {e.last_epoch}" if stopped else "never fired"
        text.append(f"Early stopping {when} and kept epoch {e.best_epoch}'s weights.")
    if best == "none":
        text.append(
            "Against the textbook, no remedy beat doing nothing here: with so few images one "
            "run's luck weighs as much as the method. Compare seeds on Compare runs to see how "
            "much of the difference is chance."
        )
    return " ".join(text)


def _explain_bn(s: dict[str, ArmSummary]) -> str:
    pairs = {}
    for label, summary in s.items():
        on = label.startswith("batchnorm")
        pairs.setdefault(label.split("lr ")[-1], {})[on] = summary.kept_val_acc
    text = [
        f"At lr {lr}: {p.get(True, float('nan')):.0%} with batchnorm, "
        f"{p.get(False, float('nan')):.0%} without."
        for lr, p in pairs.items()
    ]
    high = list(pairs.values())[-1] if pairs else {}
    if high.get(True, 0) > high.get(False, 0):
        text.append(
            "At the large rate batchnorm kept training on track: each layer's inputs stay at "
            "zero mean and unit spread however far the weights move."
        )
    else:
        text.append(
            "Here batchnorm did not rescue the large rate: in so few steps the noise of one run "
            "can outweigh its effect, or the rate was too large even for it."
        )
    return " ".join(text)


def _explain_inputs(s: dict[str, ArmSummary]) -> str:
    accs = ", ".join(f"{k}: {v.kept_val_acc:.0%}" for k, v in s.items())
    worst = answer("lowest accuracy", s)
    text = [f"Validation accuracy after the same epochs: {accs}."]
    if worst == "0 to 255":
        text.append(
            "Raw bytes make the first layer's outputs about 255 times larger than scaled ones, "
            "so the first steps push the logits far and the network spends its epochs recovering."
        )
    else:
        best = answer("highest accuracy", s)
        text.append(
            f"Against the textbook, raw bytes did not train worst here ({worst} did, and "
            f"{best} came out best): Adam divides each step by the gradient's own size, which "
            "undoes much of the input's scale, and in five short epochs one run's luck "
            "weighs as much as the scaling."
        )
    return " ".join(text)


EXPLAIN = {
    "regularization.overfit": _explain_overfit,
    "regularization.bn": _explain_bn,
    "regularization.inputs": _explain_inputs,
}


def activation_section() -> None:
    """Each layer's mean and spread for a batch of shapes, with and without batchnorm."""
    trained = st.session_state.get(TRAINED) or {}
    rates = sorted({k.split("lr ")[-1] for k in trained})
    sources = [FRESH] + [f"trained at lr {r}" for r in rates]
    left, right = st.columns(2)
    source = left.radio("Networks", sources, key="regularization.stats_source", horizontal=True)
    init = right.selectbox(
        "Starting weights", list(INITS), key="regularization.init", disabled=source != FRESH
    )
    if source == FRESH:
        view = fresh_view(init)
    else:  # the session's own trained networks
        view = results.remembered(
            PAGE,
            "stats",
            (source, [b.token for b in trained.values()]),
            lambda: _view(_trained_stats(source)),
        )
    if view is None:
        st.info("Run the batchnorm comparison to see its trained networks here.")
        return
    spread, caption, hist = view
    st.plotly_chart(spread, key="regularization.stats_chart")
    st.caption(caption)
    st.plotly_chart(hist, key="regularization.hist_chart")
    st.caption("Each panel: one layer's output values over the batch, both networks overlaid.")


def fresh_view(init: str) -> tuple[go.Figure, str, go.Figure]:
    """The fresh networks' statistics drawn: seeded and of no session's model, so made once
    per starting weights for the whole class."""
    return results.memo(PAGE, "fresh_view", init, lambda: _view(fresh_stats(init)))


def _view(stats: dict | None) -> tuple[go.Figure, str, go.Figure] | None:
    """(the mean-and-spread figure, its caption, the histograms) of both networks' stats."""
    if stats is None:
        return None
    off, on = stats.values()
    caption = (
        f"A batch of 64 shapes. Spread of the last ReLU's output: {off[-2].std:.3g} without "
        f"batchnorm, {on[-2].std:.3g} with it; of the logits: {off[-1].std:.3g} and "
        f"{on[-1].std:.3g}."
    )
    return stats_figure(stats), caption, histograms_figure(stats)


def _trained_stats(source: str) -> dict | None:
    rate = source.removeprefix("trained at lr ")
    trained = st.session_state.get(TRAINED) or {}
    off, on = trained.get(f"no batchnorm, lr {rate}"), trained.get(f"batchnorm, lr {rate}")
    if off is None or on is None:
        return None
    return trained_stats(off.model, on.model)
