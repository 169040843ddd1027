"""Architectures: what kernel sizes, Inception blocks, residual blocks and groups cost and do."""

import streamlit as st

from models.errors import CNNLabError
from ui import frame, glossary
from ui.panels import architectures as panels

frame(
    "Architectures",
    intro=(
        "Famous networks are mostly clever ways to spend fewer parameters and multiply-adds "
        "(MACs) for the same view of the image. Change the channels and sizes below: every "
        "number is counted by formula and checked against a real PyTorch module. The residual "
        "tab runs a real block with its weights set to zero."
    ),
)
glossary.popover_for("architectures")

kernels_tab, inception_tab, residual_tab, groups_tab = st.tabs(
    ["Kernel sizes", "Inception", "Residual block", "Group convolutions"]
)
for tab, show in (
    (kernels_tab, panels.kernel_sizes),
    (inception_tab, panels.inception),
    (residual_tab, panels.residual),
    (groups_tab, panels.groups),
):
    with tab:
        try:
            show()
        except CNNLabError as err:
            st.error(str(err))

with st.expander("Go deeper"):
    st.latex(
        r"\text{params} = \Big(k^2 \frac{C_{in}}{g} + 1\Big) C_{out} \qquad "
        r"\text{MACs} = H_{out} W_{out}\, C_{out}\, k^2 \frac{C_{in}}{g}"
    )
    st.latex(
        r"\text{receptive field of } n \text{ stacked } k\times k \text{ (stride 1)} = 1 + n(k-1)"
        r"\qquad y = \mathrm{ReLU}\big(F(x) + x\big)"
    )
    st.latex(
        r"\frac{\text{depthwise} + \text{pointwise}}{\text{standard}} = "
        r"\frac{k^2 C_{in} + C_{in} C_{out}}{k^2 C_{in} C_{out}} "
        r"= \frac{1}{C_{out}} + \frac{1}{k^2}"
    )
    st.markdown(
        "**Kernel sizes.** Three 3×3 convolutions see the same 7×7 patch as one 7×7, with "
        "27C² weights instead of 49C² and three non-linearities instead of one (Simonyan and "
        "Zisserman, *Very deep convolutional networks*, 2015).\n\n"
        "**Inception.** Parallel 1×1, 3×3, 5×5 and pooling branches, concatenated on channels; "
        "the 1×1 convolutions first shrink the depth the big kernels read (Szegedy et al., "
        "*Going deeper with convolutions*, 2015; Lin et al., *Network in network*, 2014).\n\n"
        "**Residual blocks.** The block learns F(x) and adds x back, so a block whose weights are "
        "zero passes its input on, and the gradient has a path with no weights (He et al., "
        "*Deep residual learning*, 2016). Where the shape changes, a 1×1 convolution projects "
        "x; zero-initialising the last batchnorm's scale starts every block as identity "
        "(Goyal et al., 2017).\n\n"
        "**Groups.** The output depth is always the number of filters; groups split the "
        "*input* channels, so each filter reads C_in/g of them and the cost falls by g "
        "(Krizhevsky et al., *AlexNet*, 2012; Xie et al., *ResNeXt*, 2017). With g = C_in the "
        "convolution is depthwise; add a 1×1 pointwise one and it is depthwise-separable "
        "(Howard et al., *MobileNets*, 2017; Chollet, *Xception*, 2017).\n\n"
        "What this page answers: kernel sizes, "
        "Inception and 1×1 convolutions, residual connections, group and depthwise "
        "convolutions, what a layer costs, and how the famous designs differ."
    )
