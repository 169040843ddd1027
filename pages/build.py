"""Build a CNN: stack layers and see shapes, parameters, MACs and receptive fields change."""

import streamlit as st

from models.network.codegen import to_pytorch_code
from models.network.geometry import analyze
from models.network.presets import PRESETS
from models.network.spec import LAYER_TYPES, NetworkSpec, SpecError, new_layer
from ui import build_panels, frame, state
from viz.network import layer_rows, network_figure

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

ss = st.session_state
current = state.current_spec()
if ss.get("build.synced") != current:  # the network changed elsewhere (a preset, a link)
    ss["build.draft"], ss["build.synced"] = current.to_dict(), current
    ss["build.version"] = ss.get("build.version", 0) + 1
draft, version = ss["build.draft"], ss["build.version"]


def restructure(layers: list, selected: int) -> None:
    ss["build.draft"] = {"input": draft["input"], "layers": layers}
    ss["build.version"] = version + 1
    ss["build.selected"] = max(0, min(selected, len(layers) - 1))


top = st.columns([3, 1, 2, 2])
preset = top[0].selectbox("Start from a preset", list(PRESETS), key="build.preset")
top[0].caption(PRESETS[preset].about)
if top[1].button("Load", key="build.load"):
    state.set_current_spec(PRESETS[preset].spec)
    st.rerun()
upload = top[2].file_uploader("Open a network (JSON)", type=["json"], key="build.upload")
if upload is not None and ss.get("build.upload_id") != upload.file_id:
    ss["build.upload_id"] = upload.file_id
    try:
        state.set_current_spec(NetworkSpec.from_json(upload.getvalue().decode("utf-8", "replace")))
        st.rerun()
    except SpecError as err:
        st.error(f"{upload.name} is not a network CNN Lab can build: {err}")
top[3].download_button(
    "Download JSON",
    current.to_json(),
    "network.json",
    "application/json",
    key="build.download_json",
)
top[3].download_button(
    "Download PyTorch code",
    to_pytorch_code(current),
    "network.py",
    "text/x-python",
    key="build.download_code",
)

picture = st.container()
edit_col, view_col = st.columns([2, 3], gap="large")
with edit_col:
    st.subheader("Layers")
    st.caption("Input: channels × height × width")
    c, h, w = (
        col.number_input(lbl, value=int(v), step=1, key=f"build.{version}.in{i}")
        for i, (col, lbl, v) in enumerate(
            zip(st.columns(3), ("channels", "height", "width"), draft["input"])
        )
    )
    layers = draft["layers"]
    labels = [build_panels.layer_label(i, ly) for i, ly in enumerate(layers)]
    sel = ss.get("build.selected", 0) if layers else None
    if layers:
        sel = st.selectbox(
            "Selected layer",
            range(len(layers)),
            index=min(sel, len(layers) - 1),
            format_func=labels.__getitem__,
            key=f"build.{version}.selected",
        )
        ss["build.selected"] = sel
        edited = build_panels.edit_layer(layers[sel], f"build.{version}.{sel}")
        layers = layers[:sel] + [edited] + layers[sel + 1 :]
        move = st.columns(3)
        if move[0].button("Move up", key="build.up", disabled=sel == 0, width="stretch"):
            restructure(
                layers[: sel - 1] + [layers[sel], layers[sel - 1]] + layers[sel + 1 :], sel - 1
            )
            st.rerun()
        if move[1].button(
            "Move down", key="build.down", disabled=sel == len(layers) - 1, width="stretch"
        ):
            restructure(layers[:sel] + [layers[sel + 1], layers[sel]] + layers[sel + 2 :], sel + 1)
            st.rerun()
        if move[2].button("Remove", key="build.remove", width="stretch"):
            restructure(layers[:sel] + layers[sel + 1 :], sel)
            st.rerun()
    add = st.columns([2, 1], vertical_alignment="bottom")
    kind = add[0].selectbox("New layer type", list(LAYER_TYPES), key="build.new_type")
    if add[1].button("Add after selected", key="build.add", width="stretch"):
        at = 0 if sel is None else sel + 1
        restructure(layers[:at] + [new_layer(kind)] + layers[at:], at)
        st.rerun()
    candidate = {"input": [c, h, w], "layers": layers}
    ss["build.draft"] = candidate
    try:
        spec = NetworkSpec.from_dict(candidate)
        if spec != current:
            state.set_current_spec(spec)
            ss["build.synced"] = current = spec
    except SpecError as err:
        st.error(f"{err}. The last valid network is kept and shown on the right.")
    st.query_params[state.QUERY_KEY] = state.encode_spec(current)
    st.caption("The address bar now carries this network: share the link to share it.")

infos = analyze(current)
pick = min(ss.get("build.selected", 0), len(infos) - 1) if infos else None
picture.plotly_chart(
    network_figure(infos, current.input_shape, None if pick is None else pick + 1),
    key="build.figure",
)
with view_col:
    total_params, total_macs = sum(i.params for i in infos), sum(i.macs for i in infos)
    m = st.columns(3)
    m[0].metric("Parameters", f"{total_params:,}")
    m[1].metric("Multiply-accumulates", f"{total_macs:,}")
    m[2].metric("Output", " × ".join(map(str, current.output_shape)))
    number = st.column_config.NumberColumn(format="localized")
    st.dataframe(
        layer_rows(infos),
        hide_index=True,
        key="build.table",
        width="stretch",
        column_config={"parameters": number, "MACs": number},
        height=420,
    )

if infos:
    info = infos[pick]
    prev = infos[pick - 1].rf if pick else None
    st.subheader(f"Layer {info.index}: {info.name}, the arithmetic")
    arith, dense = st.columns([3, 1], gap="large")
    with arith:
        build_panels.show_arithmetic(info, (prev.size, prev.jump) if prev else (1, 1))
    with dense:
        build_panels.dense_comparison(info)

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
        "- Curriculum questions answered here: 1, 2, 3, 12, 21, 23, 27, 45, 56."
    )
