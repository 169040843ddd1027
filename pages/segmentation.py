"""Segmentation: a class for every pixel, with a tiny U-Net, and what its skip connections do."""

import streamlit as st

from models.data.masks import mask_class_names
from models.training import segmentation as seg
from ui import frame, glossary, jobs, lab
from ui.panels import segmentation as panels

frame(
    "Segmentation",
    intro=(
        "A classifier gives one answer per image; a segmentation network gives one per pixel, "
        "so its output is a map the size of the input. A U-Net shrinks the image to see what is "
        "there, then grows it back to say where, and its skip connections hand the fine detail "
        "from the way down to the way up. Here it learns to paint the shapes in generated "
        "scenes of one to three shapes, live, in well under a minute."
    ),
)
glossary.popover_for("segmentation")
jobs.warm()
setup = panels.setup_controls()
if setup is None:
    st.stop()
classes = len(mask_class_names(setup.labels))

st.subheader("One image, three tasks")
panels.three_tasks(setup)

st.subheader("The U-Net")
panels.network(setup, classes)

st.subheader("Train it")
guess = lab.predict(
    "segmentation",
    "With or without skips, which gets the higher IoU?",
    ("with skips", "without skips", "about the same"),
)
label = "Train the U-Net" + ("" if setup.skips else " without skips")
if st.button(label, type="primary", key="segmentation.train"):
    panels.start(setup)
jobs.live_panel(panels.JOBS, panels.draw, panels.finish)
panels.results(guess)

with st.expander("Go deeper"):
    st.latex(
        r"\mathcal{L} = -\frac{1}{HW}\sum_{i,j} \log p_{i,j}(y_{i,j}) \qquad "
        r"\mathrm{IoU}_c = \frac{|P_c \cap T_c|}{|P_c \cup T_c|} \qquad "
        r"\mathrm{Dice}_c = \frac{2|P_c \cap T_c|}{|P_c| + |T_c|} = "
        r"\frac{2\,\mathrm{IoU}_c}{1 + \mathrm{IoU}_c}"
    )
    st.latex(r"\text{transposed conv, kernel 2, stride 2: } H_{out} = (H_{in} - 1)\cdot 2 + 2")
    st.markdown(
        "The loss is cross-entropy averaged over every pixel. The score is each validation "
        "image's intersection over union for every foreground class it has (background left "
        "out, since it would flatter any model), averaged over classes and images. Dice is the "
        "same overlap counted differently and rises and falls with IoU. A transposed "
        "convolution with kernel 2 and stride 2 spreads each input value over a 2×2 patch of "
        "the output with learned weights: the learned opposite of 2×2 pooling. The data: "
        f"{seg.SegmentationSetup().describe()} by default, masks of shape or background "
        "(choose one class per shape kind under the settings), no flips or other augmentation "
        "because the engine would move the image and not its mask.\n\n"
        "Papers: Long, Shelhamer & Darrell (2015), *Fully Convolutional Networks for Semantic "
        "Segmentation*; Ronneberger, Fischer & Brox (2015), *U-Net: Convolutional Networks for "
        "Biomedical Image Segmentation*; Dumoulin & Visin (2016), *A guide to convolution "
        "arithmetic for deep learning*.\n\n"
        "What this page answers: how a CNN can output a map instead of a label "
        "(segmentation with a U-Net, and what skip connections add); how classification, "
        "detection and segmentation differ on the same image."
    )
