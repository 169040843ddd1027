"""Augmentation: random changes to training images that keep their label, built as a pipeline."""

import streamlit as st

from models.data import augment as aug
from models.errors import CNNLabError
from models.training.augment_experiment import MIXES, ExperimentConfig, experiment_jobs, mix_batch
from models.training.jobs import ENDED
from ui import frame, state, training
from viz import augmentation as aviz

frame(
    "Augmentation",
    intro=(
        "A cat is still a cat when the photo is cropped, mirrored or a little darker. "
        "Augmentation makes such changes at random every time an image is used for training, "
        "so the network sees many versions and learns what does not matter. Build a pipeline "
        "below, see what it draws from your image, and train with and without it."
    ),
)
ss = st.session_state
STEPS = "_augmentation.steps"  # [(widget id, augmentation name, default probability)]
ss.setdefault(STEPS, [(f"s{i}", s.name, s.p) for i, s in enumerate(aug.DEFAULT_PIPELINE.steps)])
ss.setdefault("augmentation.seed", 0)


def move(i: int, by: int) -> None:
    steps = ss[STEPS]
    steps[i], steps[i + by] = steps[i + by], steps[i]


def add_step() -> None:
    uid = f"s{1 + max((int(u[1:]) for u, _, _ in ss[STEPS]), default=0)}"
    ss[STEPS].append((uid, ss["augmentation.add"], 0.5))


def new_draw() -> None:
    ss["augmentation.seed"] += 1


def param_widget(q: aug.Param, key: str, off: bool):
    if q.options:
        return st.selectbox(q.label, q.options, key=key, disabled=off)
    if isinstance(q.default, int):
        return st.slider(q.label, int(q.low), int(q.high), q.default, int(q.step or 1), key=key,
                         disabled=off)  # fmt: skip
    return st.slider(q.label, float(q.low), float(q.high), float(q.default), q.step or 0.01,
                     key=key, disabled=off)  # fmt: skip


def step_editor(i: int, uid: str, name: str, p: float) -> aug.StepSpec:
    """One step's switch, probability, parameters and order buttons."""
    key, about = f"augmentation.{uid}", aug.AUGMENTATIONS[name].about
    with st.container(border=True):
        top = st.columns([4, 1, 1, 1], vertical_alignment="center")
        on = top[0].toggle(f"{i + 1}. {name}", True, key=f"{key}.on", help=about)
        top[1].button("↑", key=f"{key}.up", on_click=move, args=(i, -1), disabled=i == 0)
        top[2].button("↓", key=f"{key}.down", on_click=move, args=(i, 1),
                      disabled=i == len(ss[STEPS]) - 1)  # fmt: skip
        top[3].button("✕", key=f"{key}.remove", on_click=ss[STEPS].pop, args=(i,))
        prob = st.slider("Probability", 0.0, 1.0, p, 0.05, key=f"{key}.p", disabled=not on)
        params = aug.AUGMENTATIONS[name].params
        values = {q.name: param_widget(q, f"{key}.{q.name}", not on) for q in params}
    return aug.StepSpec(name, tuple(values.items()), prob, on)


pipe_tab, mix_tab, exp_tab = st.tabs(["Pipeline and samples", "MixUp and CutMix", "Experiment"])
with pipe_tab:
    left, right = st.columns([1, 2])
    with left:
        st.markdown("**Pipeline** (runs top to bottom)")
        spec = aug.PipelineSpec(tuple(step_editor(i, *s) for i, s in enumerate(ss[STEPS])))
        st.selectbox("Step to add", list(aug.AUGMENTATIONS), key="augmentation.add")
        st.button("Add the step", key="augmentation.add_step", on_click=add_step)
    with right:
        a, b, c = st.columns(3, vertical_alignment="bottom")
        n = a.slider("Samples", 4, 16, 16, 4, key="augmentation.n")
        seed = b.number_input("Seed", 0, 2**31 - 1, key="augmentation.seed")
        c.button("New draw", key="augmentation.new_draw", on_click=new_draw, type="primary")
        image = state.current_image()
        grid_key = (spec, n, seed, state.current_image_name(), id(image))
        try:
            if ss.get("_augmentation.grid", (None,))[0] != grid_key:
                ss["_augmentation.grid"] = (grid_key, aug.sample_grid(image, spec, n, seed))
            grid = ss["_augmentation.grid"][1]
        except aug.AugmentError as err:
            st.error(str(err))
        else:
            st.image(grid.original, caption="original", width=160)
            st.image(list(grid.images), caption=[f"sample {i}" for i in range(n)], width=160)
            with st.expander("What each sample drew"):
                st.dataframe({"sample": [i for i, lines in enumerate(grid.notes) for _ in lines],
                              "step: what it drew": [x for lines in grid.notes for x in lines]},
                             hide_index=True, key="augmentation.notes")  # fmt: skip
    size = state.current_spec().input_shape[1:]
    try:
        code = aug.pipeline_code(spec, size)
        pipeline = aug.build_pipeline(spec, size)
    except aug.AugmentError as err:
        st.error(str(err))
    else:
        st.markdown(f"**As Python** (crops sized for your network's {size[0]}×{size[1]} input)")
        st.code(code, language="python")
        if st.button("Use in training", key="augmentation.use"):
            ss["augmentation.pipeline"] = pipeline
            st.success("Saved: tick “Augment with the Augmentation page's pipeline” on Train.")

with mix_tab:
    st.markdown(
        "MixUp and CutMix mix two images **and their labels**, so they need a batch "
        "with labels. Top: originals; below: mixed, with the target the loss sees."
    )
    a, b, c = st.columns(3)
    kind = a.radio("Method", list(MIXES), horizontal=True, key="augmentation.mix")
    alpha = b.slider(
        "α of the Beta(α, α) mixing share", 0.1, 4.0, 1.0, 0.1, key="augmentation.alpha"
    )
    mix_seed = c.number_input("Seed", 0, 10_000, 0, key="augmentation.mix_seed")
    st.plotly_chart(aviz.mix_figure(mix_batch(kind, alpha, 8, mix_seed)),
                    key="augmentation.mix_chart")  # fmt: skip


@st.cache_resource(scope="session", on_release=lambda box: [j.stop() for j in box.values()],
                   show_spinner=False)  # fmt: skip
def experiment_box() -> dict:
    return {}


with exp_tab:
    st.markdown("The same small network trains twice on the same few shapes: once on the plain "
                "images, once through your pipeline (crops sized 32×32).")  # fmt: skip
    a, b = st.columns(2)
    n_images = a.slider("Shapes (70 % train)", 100, 1000, 300, 50, key="augmentation.exp_n")
    epochs = b.slider("Epochs", 1, 30, 12, key="augmentation.exp_epochs")
    cfg = ExperimentConfig(n_images, epochs)
    box = experiment_box()
    if st.button("Train both", key="augmentation.train", type="primary"):
        try:
            jobs = experiment_jobs(spec, cfg, training.training_slots())
        except CNNLabError as err:  # AugmentError, DataError, SpecError
            st.error(f"The experiment could not start: {err}")
        else:
            for job in box.values():
                job.stop()
            box.clear()
            box.update({name: job.start() for name, job in jobs.items()})
    running = any(job.status not in ENDED for job in box.values())

    @st.fragment(run_every=0.5 if running else None)
    def experiment_panel() -> None:
        snaps = {name: job.snapshot() for name, job in box.items()}
        for name, snap in snaps.items():
            m = snap.latest
            st.caption(f"**{name}**: {snap.status}" + (f", epoch {m.epoch}" if m else ""))
            if snap.error:
                st.error(snap.error)
            elif snap.diverged:
                st.warning(snap.note)
        if snaps:
            runs = {name: snap.history for name, snap in snaps.items()}
            st.plotly_chart(aviz.experiment_figure(runs), key="augmentation.experiment_chart")
        if running and all(s.status in ENDED for s in snaps.values()):
            st.rerun()

    experiment_panel()

with st.expander("Go deeper"):
    st.markdown("Each step runs with probability $p$; MixUp draws $\\lambda \\sim$ Beta(α, α) "
                "and trains on a blend of two images and of their one-hot labels:")  # fmt: skip
    st.latex(r"\tilde x = \lambda x_i + (1-\lambda) x_j, \qquad \tilde y = \lambda y_i + "
             r"(1-\lambda) y_j")  # fmt: skip
    st.markdown(
        "CutMix pastes a box of $x_j$ into $x_i$ and sets $\\lambda$ to the share left of $x_i$. "
        "Augmentation runs on the fly, on training images only, never on validation images.\n\n"
        "Questions this page answers: what data augmentation is and why it reduces overfitting; "
        "which changes keep a label (a flipped 6 may be a 9); MixUp, CutMix and learned "
        "policies such as AutoAugment; augmentation used on the fly during training."
    )
