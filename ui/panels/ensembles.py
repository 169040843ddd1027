"""The Ensembles page's pieces: predict, train five seeds, then members against the averaged and
the voted ensemble, and the images the members disagree on."""

from __future__ import annotations

import csv
import io

import pandas as pd
import streamlit as st

from models.training.ensembles import (
    MEMBERS,
    VERDICTS,
    EnsembleResult,
    combine,
    ensemble_setup,
    member_label,
    member_probabilities,
    plan_members,
    rows_for_download,
    validation_data,
    verdict,
)
from ui import lab, results
from ui.lab import LabResults
from viz.ensembles import accuracy_figure, disagreement_figure

PAGE = "ensembles"
SHOWN = 12  # disputed images drawn, the least confident first


def controls() -> None:
    """The setup in words, the prediction and the run button."""
    st.caption(
        f"{MEMBERS} networks, seeds 0 to {MEMBERS - 1}, each trained on the same "
        f"{ensemble_setup().describe()}; only their starting weights and shuffling differ."
    )
    lab.predict(PAGE, "How will the averaged ensemble do against its best member?", VERDICTS)
    lab.run_button(PAGE, f"Train the {MEMBERS} members", plan_members)


def show() -> None:
    """Live accuracy curves while the members train, then the ensemble's results."""
    lab.watch(PAGE, _results_view, metric="accuracy", split="validation")


def _combined(res: LabResults):
    bundles = [r[0].bundle for i in range(MEMBERS) if (r := res.results(member_label(i)))]
    if len(bundles) < 2:
        return None

    def compute():
        data = validation_data()
        return data, combine(member_probabilities(bundles, data.val_x), data.val_y)

    return results.remembered(PAGE, "combined", [b.token for b in bundles], compute)


def _results_view(res: LabResults) -> None:
    combined = _combined(res)
    if combined is None:
        st.warning("Fewer than two members finished, so there is no ensemble to measure.")
        return
    data, result = combined
    st.plotly_chart(
        accuracy_figure(result.member_acc, result.average_acc, result.vote_acc),
        key=f"{PAGE}.accuracy_chart",
    )
    st.caption(
        f"Validation accuracy on {len(data.val_y)} images: members from "
        f"{min(result.member_acc):.1%} to {result.best_member:.1%}; averaged probabilities "
        f"{result.average_acc:.1%}; majority vote {result.vote_acc:.1%}."
    )
    lab.reveal(res.guess, verdict(result), _because(result, len(data.val_y)))
    _disputed(data, result)
    st.download_button(
        "Download every image's answers (CSV)",
        _csv(rows_for_download(result, data.val_y, data.class_names)),
        file_name="ensemble_answers.csv",
        mime="text/csv",
        key=f"{PAGE}.download",
    )


def _because(result: EnsembleResult, n: int) -> str:
    gain = result.average_acc - result.best_member
    mean = sum(result.member_acc) / len(result.member_acc)
    text = (
        f"The members average {mean:.1%}; averaging their probabilities gives "
        f"{result.average_acc:.1%} ({gain:+.1%} against the best member) and voting "
        f"{result.vote_acc:.1%}. They disagree on {len(result.disagree)} of {n} images: "
        "where their mistakes differ, the average lets the right answers outvote them."
    )
    if gain <= 0:
        text += (
            " Here the ensemble did not beat its best member: when the members make the same "
            "mistakes, or one is much better than the rest, averaging has little to correct."
        )
    return text


def _disputed(data, result: EnsembleResult) -> None:
    if not result.disagree:
        st.info("The members agree on every validation image.")
        return
    picks = list(result.disagree[:SHOWN])
    names = data.class_names
    images = data.val_x[picks].permute(0, 2, 3, 1).numpy()
    titles = [
        f"{names[int(data.val_y[i])]} → {names[int(result.average_pred[i])]} {c:.0%}"
        for i, c in zip(picks, result.confidence[:SHOWN], strict=True)
    ]
    st.markdown(f"**Where they disagree** ({len(result.disagree)} images; the least sure first)")
    st.plotly_chart(disagreement_figure(images, titles), key=f"{PAGE}.disagree_chart")
    st.caption(
        "Each title: the true class → the averaged ensemble's answer, and its averaged "
        f"probability (confidence). The least sure here: {result.confidence[0]:.0%}; "
        f"the surest disputed one: {max(result.confidence):.0%}."
    )
    table = {
        member_label(m): [names[int(result.predictions[m, i])] for i in picks]
        for m in range(result.predictions.shape[0])
    }
    table["true class"] = [names[int(data.val_y[i])] for i in picks]
    st.dataframe(pd.DataFrame(table, index=pd.Index(picks, name="image")), key=f"{PAGE}.table")


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["image"])
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
