"""Build a CNN: stack layers and see shapes, parameters, MACs and receptive fields change."""

import streamlit as st

from models.network.codegen import to_pytorch_code
from ui import frame, glossary, state
from ui.panels import build as panels

frame(
    "Build a CNN",
    intro=(
        "A CNN is a stack of layers. Convolutions slide small learned filters over the image, "
        "pooling shrinks the maps, and dense layers at the end turn features into scores. "
        "Between them, activations such as ReLU bend the numbers: without them the whole "
        "stack, however deep, would be one linear convolution. Edit the stack and every "
        "number below follows."
    ),
)
glossary.popover_for("build")

current = state.current_spec()
version = panels.widget_version(current)  # moves on when a preset, link or file changed it
panels.file_row(current)

picture = st.container()
edit_col, view_col = st.columns([2, 3], gap="large")
with edit_col:
    current = panels.layer_editor(current, version)

infos = panels.analyzed(current)
pick = panels.selected_layer(len(infos))
picture.plotly_chart(panels.network_picture(current, infos, pick), key="build.figure")
with view_col:
    panels.summary(infos, current)
if pick is not None:
    panels.arithmetic(infos, pick)

with st.expander("PyTorch code for this network"):
    st.code(to_pytorch_code(current), language="python")
with st.expander("Go deeper"):
    st.markdown(
        "- **Why 3×3 stacks?** Two 3×3 convs see a 5×5 window with 18·C² weights instead of "
        "25·C²; three see 7×7 with 27·C² instead of 49·C², and add a non-linearity between.\n"
        "- **Why activations?** Convolutions are linear, and so is any stack of them: two 3×3 "
        "convolutions with nothing between are exactly one 5×5 convolution. A non-linearity "
        "between layers is what lets depth add power.\n"
        "- **Where do the parameters live?** In small CNNs, mostly in the first dense layer "
        "after flatten; global average pooling removes most of them.\n"
        "- What this page answers: what a CNN is and what its parts do; convolutional "
        "against fully connected layers; parameter sharing and how to count parameters; "
        "flattening; small against large filters and how to choose kernel sizes."
    )
