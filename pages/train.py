"""Train: watch a network learn, live, and see where it still gets things wrong."""

import streamlit as st

from models.device import device_name, pick_device
from models.errors import CNNLabError
from models.training.checkpoint import to_bytes
from models.training.engine import lr_curve, steps_per_epoch
from models.training.evaluate import predict_image
from models.training.jobs import FAILED, new_training_job
from ui import frame, state, training
from viz.train import confusion_figure, curves_figure, lr_figure, prediction_figure

frame(
    "Train",
    intro=(
        "Training shows the network a batch of labelled images, measures how wrong it is (the "
        "loss), and nudges every weight a little in the direction that makes it less wrong. "
        "Repeat that for a few passes over the data and the curves below fall. The validation "
        "images are never trained on: they tell you whether the network learned or memorised."
    ),
)

st.subheader("1. Data and model")
data = training.data_controls()
picked = training.model_controls()
settings = training.config_controls()
ready = data is not None and picked is not None and settings is not None
if data is not None:
    counts = data.counts()
    st.caption(
        f"{len(data.y):,} images, {'×'.join(map(str, data.shape))}, {len(counts)} "
        "classes: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
if ready:
    ready = training.fit_controls(data, picked[0])

st.subheader("2. Train")
job = training.current_job()
if settings is not None:
    config, val_share = settings
    try:
        st.caption(f"Trains on **{device_name(pick_device(config.device))}**.")
    except ValueError as err:
        st.error(str(err))
        ready = False
start = st.button("Start training", type="primary", disabled=not ready, key="train.start")
if start and ready:
    spec, initial, name = picked
    try:
        with st.spinner("Preparing the data…"):
            job = new_training_job(
                spec, initial, data, config, val_share, name, training.training_slots()
            )
        training.run_job(job)
    except CNNLabError as err:  # DataError, SpecError, TrainingError: said for the user
        st.error(f"Training could not start: {err}")


def draw(snap) -> None:
    share, line = training.progress_text(snap, job.config.batch_size)
    st.progress(share, text=f"**{snap.status.capitalize()}** · {line}")
    if snap.status in ("queued", "running") and st.button("Stop training", key="train.stop"):
        job.stop()
    if snap.status == FAILED:
        st.error(snap.error)
    elif snap.diverged:
        st.warning(f"{snap.note} The session keeps its previous model.")
    elif snap.note:
        st.info(snap.note)
    st.plotly_chart(curves_figure(snap.history), key="train.curves")
    lrs = lr_curve(job.config, len(job.data.train_y))
    per_epoch = steps_per_epoch(len(job.data.train_y), job.config.batch_size)
    done = snap.latest.step if snap.latest else 0
    st.plotly_chart(lr_figure(lrs, per_epoch, done), key="train.lr_plot")


if job is None:
    st.info("Press **Start training**: the curves appear here and move as the network learns.")
training.live_panel(draw, training.finish_job)

st.subheader("3. How good is it?")
model = state.current_model()
evaluated = st.session_state.get("_train_eval")
fresh = evaluated is not None and evaluated[0] == id(model)
if fresh:
    _, result, wrong, names = evaluated
    st.metric("Validation accuracy", f"{result.accuracy:.1%}")
    left, right = st.columns([2, 3])
    left.dataframe(
        {
            "class": names,
            "precision": result.precision,
            "recall": result.recall,
            "F1": result.f1,
            "images": result.support,
        },
        hide_index=True,
    )
    right.plotly_chart(confusion_figure(result.confusion.numpy(), names), key="train.confusion")
    st.markdown(f"**Misclassified validation images** ({len(wrong)} shown; true → predicted)")
    if wrong:
        st.image([w[0] for w in wrong], caption=[w[1] for w in wrong], width=72)
else:
    st.caption("After training, accuracy per class, the confusion matrix and mistakes show here.")

if model.trained:
    st.markdown(f"**Your image** with the session's model ({model.name})")
    logits, probs = predict_image(model, state.current_image())
    st.plotly_chart(prediction_figure(logits, probs, model.class_names), key="train.predict")
    if model.spec is not None:
        metrics = st.session_state.get("_train_metrics") if fresh else None
        st.download_button(
            "Download the checkpoint (.pt)",
            to_bytes(model, metrics),
            file_name="cnn_lab_model.pt",
            key="train.download",
        )

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
        "Questions this page answers: how a CNN learns; normalization with training-set "
        "statistics; softmax; loss functions; metrics and the confusion matrix; learning rate "
        "and batch size; dropout, weight decay and early stopping; training against validation "
        "loss (overfitting); augmentation used on the fly."
    )
