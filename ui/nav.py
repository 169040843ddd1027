"""The pages of CNN Lab, in our order and sections, with what each one teaches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PageInfo:
    path: str  # relative to the repo root, as st.page_link wants it
    label: str
    icon: str
    section: str
    teaches: str  # one line for the home page card


PAGES: tuple[PageInfo, ...] = (
    PageInfo("app.py", "Home", ":material/home:", "Start", "What CNN Lab is and where to go."),
    PageInfo(
        "pages/lessons.py",
        "Lessons",
        ":material/school:",
        "Start",
        "Short lessons in order: open a page set up for you, predict, check, read why.",
    ),
    PageInfo(
        "pages/build.py",
        "Build a CNN",
        ":material/construction:",
        "Build and train",
        "Stack layers, watch shapes, parameters and receptive fields change as you edit.",
    ),
    PageInfo(
        "pages/train.py",
        "Train",
        ":material/model_training:",
        "Build and train",
        "Train your network live, on CPU or GPU, and see where it gets things wrong.",
    ),
    PageInfo(
        "pages/experiments.py",
        "Compare runs",
        ":material/compare_arrows:",
        "Build and train",
        "Change one thing, train quick runs side by side, and compare every run you made.",
    ),
    PageInfo(
        "pages/convolution.py",
        "Convolution",
        ":material/grid_on:",
        "Operations",
        "Slide a kernel over numbers and over your image: padding, stride, dilation.",
    ),
    PageInfo(
        "pages/pooling.py",
        "Pooling",
        ":material/filter_center_focus:",
        "Operations",
        "Max, average and global pooling, and what they keep when the image shifts.",
    ),
    PageInfo(
        "pages/augmentation.py",
        "Augmentation",
        ":material/auto_awesome:",
        "Operations",
        "Random crops, flips and colour changes that make more data out of less.",
    ),
    PageInfo(
        "pages/feature_maps.py",
        "Feature maps",
        ":material/layers:",
        "Look inside",
        "Every channel of every layer for your image, from edges to parts.",
    ),
    PageInfo(
        "pages/filters.py",
        "Filters",
        ":material/blur_on:",
        "Look inside",
        "The kernels a network learned, and the input each one likes best.",
    ),
    PageInfo(
        "pages/neuron.py",
        "Neuron view",
        ":material/hub:",
        "Look inside",
        "Click any unit of any model and see how its number was computed.",
    ),
    PageInfo(
        "pages/receptive_field.py",
        "Receptive field",
        ":material/center_focus_strong:",
        "Look inside",
        "Which pixels one unit can see, and which it actually uses.",
    ),
    PageInfo(
        "pages/saliency.py",
        "Saliency",
        ":material/visibility:",
        "Explain",
        "Which pixels made the network decide, by a dozen attribution methods.",
    ),
    PageInfo(
        "pages/attention.py",
        "Attention",
        ":material/psychology:",
        "Explain",
        "What squeeze-and-excitation and CBAM blocks choose to emphasise.",
    ),
    PageInfo(
        "pages/adversarial.py",
        "Adversarial",
        ":material/bug_report:",
        "Explain",
        "Tiny changes that fool the network, and how accuracy falls as they grow.",
    ),
    PageInfo(
        "pages/imbalance.py",
        "Imbalance",
        ":material/balance:",
        "Make training work",
        "When one class is rare: why accuracy misleads, and four ways to fix it.",
    ),
    PageInfo(
        "pages/losses.py",
        "Losses",
        ":material/functions:",
        "Make training work",
        "Cross-entropy, focal, smoothed and hinge losses, and the gradients they give.",
    ),
    PageInfo(
        "pages/regularization.py",
        "Regularization",
        ":material/tune:",
        "Make training work",
        "Dropout, weight decay, augmentation, early stopping and batchnorm, measured.",
    ),
    PageInfo(
        "pages/transfer.py",
        "Transfer",
        ":material/move_up:",
        "Make training work",
        "Reuse a trained network on a new task, and watch accuracy drift with the data.",
    ),
    PageInfo(
        "pages/ensembles.py",
        "Ensembles",
        ":material/groups:",
        "Make training work",
        "Five networks vote: when the crowd beats its best member.",
    ),
    PageInfo(
        "pages/backprop.py",
        "Backpropagation",
        ":material/undo:",
        "How networks learn",
        "Follow every gradient of a tiny network, cell by cell, and check it numerically.",
    ),
    PageInfo(
        "pages/gradient_flow.py",
        "Gradient flow",
        ":material/waterfall_chart:",
        "How networks learn",
        "Why deep plain stacks stop learning, and what skips and batchnorm change.",
    ),
    PageInfo(
        "pages/architectures.py",
        "Architectures",
        ":material/account_tree:",
        "How networks learn",
        "Kernel sizes, Inception, residual blocks and group convolutions, counted.",
    ),
    PageInfo(
        "pages/segmentation.py",
        "Segmentation",
        ":material/format_paint:",
        "Beyond classification",
        "A tiny U-Net labels every pixel, live, with and without its skips.",
    ),
    PageInfo(
        "pages/signals.py",
        "Signals",
        ":material/graphic_eq:",
        "Beyond classification",
        "A 1-D CNN reads waveforms, and a 2-D one reads their spectrograms.",
    ),
    PageInfo(
        "pages/regression.py",
        "Regression",
        ":material/straighten:",
        "Beyond classification",
        "Predict a number, not a class: size, position or angle of a shape.",
    ),
    PageInfo(
        "pages/class_board.py",
        "Class board",
        ":material/leaderboard:",
        "Classroom",
        "Join your class with its code and compare everyone's runs on one board.",
    ),
)


def available_pages() -> list[PageInfo]:
    """The pages whose file exists, so a page shows in the menu the day it is added."""
    return [p for p in PAGES if (ROOT / p.path).exists()]
