"""Train: watch a network learn, live, and see where it still gets things wrong."""

import streamlit as st

from models.errors import CNNLabError
from models.training.executor import job_memory_mb, training_request
from ui import frame, glossary, jobs, state
from ui.panels import train as panel

frame(
    "Train",
    intro=(
        "Training shows the network a batch of labelled images, measures how wrong it is (the "
        "loss), and nudges every weight a little in the direction that makes it less wrong. "
        "Repeat that for a few passes over the data and the curves below fall. The validation "
        "images are never trained on: they tell you whether the network learned or memorised."
    ),
)
glossary.popover_for("train")

jobs.warm()  # the workers start now, while the student picks data and settings
st.subheader("1. Data and model")
data = panel.data_controls()
picked = panel.model_controls()
settings = panel.config_controls()
ready = data is not None and picked is not None and settings is not None
if data is not None:
    panel.data_caption(data)
if ready:
    ready = panel.fit_controls(data, picked[0])

st.subheader("2. Train")
if settings is not None:
    config, val_share = settings
    ready = panel.device_caption(config) and ready
start = st.button("Start training", type="primary", disabled=not ready, key="train.start")
if start and ready:
    spec, initial, name = picked
    try:
        with st.spinner("Preparing the data…"):
            memory = job_memory_mb()
            request = training_request(spec, initial, data, config, val_share, name, memory)
        jobs.submit(panel.JOB, request)
    except CNNLabError as err:  # DataError, SpecError, TrainingError, executor settings
        st.error(f"Training could not start: {err}")
jobs.live_panel(panel.JOBS, panel.draw_run, panel.finish)
panel.lr_plan(jobs.get(panel.JOB))

st.subheader("3. How good is it?")
model = state.current_model()
result = panel.current_result(jobs.get(panel.JOB), model)
if result is not None:
    panel.evaluation(result)
else:
    st.caption("After training, accuracy per class, the confusion matrix and mistakes show here.")
if model.trained:
    panel.prediction(model, result)

with st.expander("Go deeper"):
    st.markdown("One step of gradient descent moves each weight against its gradient:")
    st.latex(r"w \leftarrow w - \eta \, \frac{\partial L}{\partial w}")
    st.markdown(
        "The cross-entropy loss of one image with true class $y$ and logits $z$; "
        "focal loss multiplies it by $(1-p_y)^\\gamma$ so easy images count less:"
    )
    st.latex(
        r"p_k = \frac{e^{z_k}}{\sum_j e^{z_j}}, \qquad L = -\log p_y, \qquad "
        r"L_\text{focal} = -(1 - p_y)^\gamma \log p_y"
    )
    st.latex(
        r"\text{precision} = \frac{TP}{TP + FP}, \quad \text{recall} = \frac{TP}{TP + FN},"
        r"\quad F_1 = \frac{2PR}{P + R}"
    )
    st.markdown(
        "What this page answers: how a CNN learns; normalization with training-set "
        "statistics; softmax; loss functions; metrics and the confusion matrix; learning rate "
        "and batch size; dropout, weight decay and early stopping; training against validation "
        "loss (overfitting); augmentation used on the fly."
    )
