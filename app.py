"""CNN Lab's home page: what the app is, where each page leads, and what this session holds."""

import streamlit as st

from models.network.geometry import analyze
from ui import frame, glossary, jobs, menu, state
from ui.image_picker import preview

frame(
    "CNN Lab",
    intro=(
        "Build a small convolutional network, train it live, look inside it and ask why it "
        "decided what it did, on your own images. Every page works the moment it opens, on a "
        "sample image and a network you can change. Pick a page below or in the sidebar."
    ),
)

jobs.warm()  # the training workers start with the first visit, not with the first run
spec = state.current_spec()
infos = analyze(spec)
bundle = state.current_model()
left, right = st.columns([2, 1])
with left:
    st.subheader("Your network")
    kinds = " → ".join(info.name for info in infos)
    st.markdown(
        f"Input **{'×'.join(map(str, spec.input_shape))}**, {len(infos)} layers, "
        f"**{sum(i.params for i in infos):,}** parameters, output "
        f"**{'×'.join(map(str, spec.output_shape))}**.  \n`{kinds}`"
    )
    st.caption(
        f"Model: {bundle.name} ({'trained' if bundle.trained else 'not trained yet'}). "
        "Change it on Build a CNN; train it on Train."
    )
with right:
    st.subheader("Your image")
    st.image(
        preview(state.current_image()),
        caption=state.current_image_name(),
        width=220,
        alt=f"Your image: {state.current_image_name()}",
    )

st.subheader("Pages")
menu.page_cards()  # a card per page: one element (ui/menu.py)

glossary.glossary_section()
