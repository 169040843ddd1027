"""The Signals page's pieces: the data controls, a signal with its receptive field and its
spectrogram, and the comparison's results (accuracies, kernels, feature maps, downloads).

The signals are seeded, so the split and the figures of part 1 are functions of the setup and
the student's picks: made once for the whole class (`results.memo`). The trained runs are the
session's own.
"""

from __future__ import annotations

from dataclasses import replace

import plotly.graph_objects as go
import streamlit as st

from models.data.signals import SignalStyle, from_uint8
from models.errors import CNNLabError
from models.network.conv1d import field_interval
from models.training import signals as sig
from ui import lab, results
from viz import signals as sviz

PAGE = "signals"
N_FFT, HOP = 32, 4  # models.data.signals.spectrogram's defaults, for the axis labels
OPTIONS = (sig.WAVEFORM, sig.SPECTROGRAM, "about the same (within 2 points)")
QUESTION = "Which network will classify the five kinds of signal better after the same training?"
SETUP = "_signals.setup"  # the setup the runs on screen were trained with


def setup_controls() -> sig.SignalSetup | None:
    """Noise, count, epochs and seed; None (with the reason shown) when refused."""
    a, b, c, d = st.columns(4)
    noise = a.slider(
        "Noise (std; the waves' amplitude is 0.6 to 1.2)", 0.0, 1.0, 0.3, 0.1, key="signals.noise"
    )
    count = b.number_input(
        f"Signals to draw ({sig.MIN_SIGNALS:,} to {sig.MAX_SIGNALS:,})",
        value=sig.SignalSetup.signals, step=100, key="signals.count",
    )  # fmt: skip
    epochs = c.slider("Epochs per run", 1, 30, sig.SignalSetup.config.epochs, key="signals.epochs")
    seed = d.number_input("Seed (0 to 9,999)", 0, 9_999, 0, key="signals.seed")
    try:
        config = replace(sig.SignalSetup.config, epochs=int(epochs))
        style = SignalStyle(noise=float(noise))
        return sig.SignalSetup(int(count), style, config=config, seed=int(seed))
    except CNNLabError as err:
        st.error(str(err))
        return None


def split_for(setup: sig.SignalSetup) -> sig.SignalSplit:
    """The setup's signals and split, drawn once per setting for the class (never modified)."""
    return results.memo(PAGE, "split", setup, lambda: sig.prepare_split(setup))


def _examples_figure(setup: sig.SignalSetup) -> tuple[dict[str, int], go.Figure]:
    """(each class's example signal's validation index, the examples drawn)."""
    split = split_for(setup)
    picks = sig.examples(split)
    waves = split.waveforms.val_x
    signals = {n: from_uint8(waves[i, 0]).numpy() for n, i in picks.items()}
    return picks, sviz.examples_figure(signals)


def _field_figure(setup: sig.SignalSetup, index: int, unit: int) -> go.Figure:
    last = sig.conv_fields(setup.net, setup.style.length)[-1]
    first, end = field_interval(last, unit, setup.style.length)
    signal = from_uint8(split_for(setup).waveforms.val_x[index, 0]).numpy()
    return sviz.field_figure(signal, first, end, f"unit {unit} sees {first}–{end}")


def _spectrogram_figure(setup: sig.SignalSetup, index: int) -> go.Figure:
    image = split_for(setup).spectrograms.val_x[index, 0].numpy()
    return sviz.spectrogram_figure(image, HOP, N_FFT)


def explore(setup: sig.SignalSetup) -> tuple[str, int]:
    """Examples of each class, then one signal beside its spectrogram, with the last conv
    layer's receptive field on it. Returns (class name, validation index) of that signal."""
    split = split_for(setup)
    picks, examples = results.memo(PAGE, "examples", setup, lambda: _examples_figure(setup))
    st.plotly_chart(examples, key="signals.examples")
    st.caption(
        f"One validation signal per class, {setup.style.length} samples each, noise std "
        f"{setup.style.noise:g}. {setup.signals:,} signals are drawn, a fifth kept to validate."
    )
    name = st.selectbox("Signal to look at", list(picks), key="signals.example")
    index = picks[name]
    fields = sig.conv_fields(setup.net, setup.style.length)
    last = fields[-1]
    unit = st.slider(
        f"Unit of the last conv layer ({last.name}, 0 to {last.length - 1})",
        0, last.length - 1, last.length // 2, key="signals.unit",
    )  # fmt: skip
    first, end = field_interval(last, unit, setup.style.length)
    left, right = st.columns(2)
    field = results.memo(
        PAGE, "field", (setup, index, unit), lambda: _field_figure(setup, index, unit)
    )
    left.plotly_chart(field, key="signals.field")
    left.caption(
        f"Unit {unit} of {last.name} sees samples {first} to {end}: a field of {last.size} "
        f"samples ({last.size / setup.style.length:.0%} of the signal), stepping "
        f"{last.jump} samples per unit: {len(fields)} convs of {setup.net.kernel} taps, with a "
        "pooling by 2 after each."
    )
    shape = split.spectrograms.val_x.shape[2:]
    spectrogram = results.memo(
        PAGE, "spectrogram", (setup, index), lambda: _spectrogram_figure(setup, index)
    )
    right.plotly_chart(spectrogram, key="signals.spectrogram")
    right.caption(
        f"The same {name} as a {shape[0]}×{shape[1]} image: log magnitude of "
        f"{N_FFT}-sample windows every {HOP} samples. The 2-D CNN sees this."
    )
    return name, index


def make_runs(setup: sig.SignalSetup) -> list:
    """The two planned runs (called on the press); the setup is kept for the results."""
    st.session_state[SETUP] = setup
    return sig.plan_signal_runs(setup, split_for(setup))


def show_results(done: lab.LabResults, index: int) -> None:
    """Accuracies and the verdict, then inside the trained 1-D network, then downloads."""
    setup = st.session_state.get(SETUP)
    found = {label: done.results(label) for label in (sig.WAVEFORM, sig.SPECTROGRAM)}
    if setup is None or not all(found.values()):
        st.warning("A run ended without a trained model (stopped or failed): run them again.")
        return
    acc = {label: r[0].evaluation.accuracy for label, r in found.items()}
    _verdict(done.guess, acc)
    st.plotly_chart(sviz.accuracy_figure(acc), key="signals.accuracy")
    st.caption(
        " · ".join(f"{k}: {v:.1%}" for k, v in acc.items())
        + f" on {len(found[sig.WAVEFORM][0].evaluation.predictions)} validation signals."
    )
    _inside(setup, found[sig.WAVEFORM][0].bundle.model, index)
    _downloads(setup, found, acc, done)


def _verdict(guess: str | None, acc: dict[str, float]) -> None:
    one, two = acc[sig.WAVEFORM], acc[sig.SPECTROGRAM]
    gap = abs(one - two)
    answer = OPTIONS[2] if gap < 0.02 else (sig.WAVEFORM if one > two else sig.SPECTROGRAM)
    better = "waveform" if one > two else "spectrogram"
    because = (
        f"The 1-D CNN reached {one:.1%} and the 2-D CNN {two:.1%}, a gap of {gap:.1%} points "
        f"on the same signals, split, recipe and seed. "
    )
    if gap < 0.02:
        because += "That is within what a different seed could change: call it a tie. "
    else:
        because += (
            f"The {better} won here. The spectrogram lays frequency out as a second axis, so a "
            "chirp is a slanted line and bursts are bright patches; the 1-D net must build "
            "frequency detectors itself from 7-tap kernels. "
        )
    because += "Try more noise or another seed before trusting a small gap."
    lab.reveal(guess, answer, because)


def _inside(setup: sig.SignalSetup, model, index: int) -> None:
    st.markdown("**Inside the trained 1-D CNN**")
    data = split_for(setup).waveforms
    weights = sig.kernels(model)
    first = next(iter(weights))
    st.plotly_chart(sviz.kernels_figure(weights[first], first), key="signals.kernels")
    st.caption(
        f"The {weights[first].shape[0]} kernels of {first}, {weights[first].shape[2]} taps each: "
        "smooth bumps respond to slow waves, alternating signs to fast ones or to edges."
    )
    maps = sig.feature_maps(model, data.val_x[index], data.mean, data.std)
    fields = {f.name: f for f in sig.conv_fields(setup.net, setup.style.length)}
    rows = [(m.name, m.values, fields[m.name].start, fields[m.name].jump) for m in maps]
    signal = from_uint8(data.val_x[index, 0]).numpy()
    st.plotly_chart(sviz.feature_maps_figure(rows, signal), key="signals.maps")
    sizes = ", ".join(f"{f.name}: {f.size} samples" for f in fields.values())
    st.caption(f"Each block's maps (up to 8), placed under the samples they see ({sizes}).")


def _downloads(setup, found, acc, done: lab.LabResults) -> None:
    seconds = {k: v[-1] for k, v in done.finals("elapsed_s").items()}
    a, b, c = st.columns(3)
    a.download_button(
        "Results (JSON)", sig.comparison_json(setup, acc, seconds), "signals_results.json",
        key="signals.download_results",
    )  # fmt: skip
    for column, label, data in (
        (b, sig.WAVEFORM, split_for(setup).waveforms),
        (c, sig.SPECTROGRAM, split_for(setup).spectrograms),
    ):
        model, accuracy = found[label][0].bundle.model, acc[label]
        column.download_button(  # the checkpoint is written on the click, not at every run
            f"Model: {label} (.pt)",
            lambda model=model, data=data, accuracy=accuracy: sig.model_bytes(
                model, data, accuracy
            ),
            f"signals_{'1d' if label == sig.WAVEFORM else '2d'}.pt",
            "application/octet-stream",
            key=f"signals.download_{'1d' if label == sig.WAVEFORM else '2d'}",
        )
