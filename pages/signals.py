"""Signals: a CNN on 1-D data, and the same signal as a 2-D spectrogram for a 2-D CNN."""

import streamlit as st

from ui import frame, glossary, jobs, lab
from ui.panels import signals as panel

frame(
    "Signals",
    intro=(
        "A convolution does not need an image: on a signal, a kernel is a short row of weights "
        "that slides along time. Here five kinds of generated signal (sine, square, sawtooth, "
        "chirp and short bursts) train a small 1-D CNN. The same signal can also become a "
        "picture, its spectrogram, for an ordinary 2-D CNN: which way learns better?"
    ),
)
glossary.popover_for("signals")
jobs.warm()
setup = panel.setup_controls()
if setup is None:
    st.stop()
st.subheader("1. The signals, and what one unit sees")
_, index = panel.explore(setup)

st.subheader("2. Waveform or spectrogram?")
guess = lab.predict(panel.PAGE, panel.QUESTION, panel.OPTIONS)
lab.run_button(
    panel.PAGE,
    "Train both networks (under a minute each)",
    lambda: panel.make_runs(setup),
)
lab.watch(panel.PAGE, lambda done: panel.show_results(done, index))

with st.expander("Go deeper"):
    st.markdown(
        "**1-D convolution.** Output sample *i* of channel *o* is a weighted sum of *k* "
        "neighbouring input samples of every input channel:"
    )
    st.latex(r"y_o[i] = b_o + \sum_{c}\sum_{t=0}^{k-1} w_{o,c}[t]\; x_c[i\cdot s + t\cdot d - p]")
    st.markdown("Its length and each unit's receptive field follow the same rules as in 2-D:")
    st.latex(
        r"L_{out} = \left\lfloor \frac{L + 2p - d(k-1) - 1}{s} \right\rfloor + 1,\qquad "
        r"r_{out} = r_{in} + (k-1)\,d\,j_{in},\qquad j_{out} = j_{in}\, s"
    )
    st.markdown(
        "**Spectrogram.** The short-time Fourier transform cuts the signal into overlapping "
        "windows (Hann, 32 samples, every 4) and measures how much of each frequency each "
        "window holds; the page shows log(1 + |STFT|). Time runs across, frequency up."
    )
    st.latex(
        r"S[f, m] = \log\Big(1 + \Big|\sum_{n} x[n]\, w[n - mH]\, e^{-2\pi i f n / N}\Big|\Big)"
    )
    st.markdown(
        "Papers: Waibel et al., “Phoneme recognition using time-delay neural networks” (1989), "
        "the first 1-D CNN on speech; Hershey et al., “CNN architectures for large-scale audio "
        "classification” (2017), 2-D CNNs on spectrograms; Araujo et al., “Computing receptive "
        "fields of convolutional neural networks” (2019). What this page answers: CNNs on "
        "signals and time series."
    )
