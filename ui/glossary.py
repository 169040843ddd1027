"""The words CNN Lab uses, each explained in one or two plain sentences.

`GLOSSARY` is data: a page lists the terms it uses in `popover([...])`, a widget takes one as
`help=term("stride")`, and the Home page lists them all with a search box. A term is found by its
full name, by the part before its brackets, or by what is inside them ("ε", "epsilon").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

import streamlit as st

GLOSSARY: dict[str, str] = {
    "accuracy": "The share of images whose top guess is the right class. On unbalanced data it "
    "can look high while a rare class is always missed.",
    "activation": "The number a unit outputs after its non-linear function; a feature map is a "
    "grid of activations.",
    "activation function": "The non-linear step after a layer's weighted sum, such as ReLU. "
    "Without it, a stack of layers could only compute one linear function.",
    "Adam": "An optimizer that gives every weight its own step size, from running averages of "
    "its recent gradients and of their squares.",
    "adversarial example": "An input changed by a tiny, carefully chosen amount so that the "
    "network's answer changes, while a person sees no difference.",
    "attribution": "A score for every input pixel saying how much it pushed the output towards "
    "one class. Saliency maps draw these scores.",
    "augmentation": "Making new training images from old ones (flips, crops, colour changes) "
    "that keep the label, so the network sees more variety and overfits less.",
    "average pooling": "Pooling that keeps the mean of each window.",
    "backpropagation": "The chain rule applied layer by layer from the loss back to the input, "
    "giving the gradient of the loss for every weight in one backward pass.",
    "batch": "The group of examples the network sees before one update of its weights.",
    "batch size": "How many examples go into one batch. Larger batches give smoother gradients "
    "but fewer updates per epoch.",
    "batchnorm (batch normalization)": "A layer that rescales each channel to mean 0 and "
    "spread 1 over the batch, then applies a learned scale and shift. It often lets deeper "
    "networks train faster.",
    "bias": "The number a unit adds after its weighted sum; one per output channel in a "
    "convolution.",
    "calibration": "Whether a model's confidence matches how often it is right: of the answers "
    "given with 80 % confidence, about 80 % should be correct.",
    "CBAM": "Convolutional Block Attention Module: a block that learns which channels and "
    "which places in a map to emphasise, and multiplies the map by those weights.",
    "ceil_mode": "A PyTorch pooling option that rounds the output size up instead of down, so "
    "a last window that hangs over the edge is kept.",
    "channel": "One of the stacked grids in an image or feature map: red, green and blue for a "
    "photo, one per filter after a convolution.",
    "class imbalance": "Some classes have many more training examples than others, so the "
    "network can score well by mostly ignoring the rare ones.",
    "class weights": "Numbers that make mistakes on some classes cost more in the loss, "
    "usually more for rare classes.",
    "confusion matrix": "A table counting, for each true class, how often the network guessed "
    "each class. The diagonal holds the correct answers.",
    "convolution": "Sliding a small grid of weights (the kernel) over the input and, at each "
    "place, multiplying the numbers under it by the weights and adding them up.",
    "cross-entropy": "The standard classification loss: minus the log of the probability the "
    "network gave the right class. It is small when the network is confidently right.",
    "CutMix": "An augmentation that pastes a box cut from one image into another and mixes "
    "their labels in proportion to the areas.",
    "depthwise convolution": "A convolution where every input channel gets its own filter and "
    "channels are not mixed; a 1×1 convolution after it mixes them (depthwise-separable).",
    "Dice score": "A segmentation score: twice the overlap of prediction and truth divided by "
    "their total size. 1 is a perfect match.",
    "dilation": "Spacing out the kernel's taps with gaps between them, so the same number of "
    "weights covers a wider area.",
    "domain shift": "When the images met in use differ from the training images (other "
    "lighting, noise, style), so accuracy drops.",
    "dropout": "During training, setting a random share of units to zero at each step, so the "
    "network cannot rely on any single one. It is switched off for predictions.",
    "early stopping": "Stopping training when the validation loss has not improved for a few "
    "epochs, and keeping the best weights seen.",
    "ECE (expected calibration error)": "The average gap between confidence and accuracy, "
    "measured in bins of confidence. 0 means perfectly calibrated.",
    "effective receptive field": "The part of the receptive field a unit actually reacts to, "
    "found from gradients; usually a small bright centre inside the full field.",
    "ensemble": "Several models trained separately whose predictions are averaged; the group "
    "is often more accurate and better calibrated than its members.",
    "epoch": "One pass of training over every example in the training set.",
    "ε (epsilon)": "On the Adversarial page, the largest change allowed to any pixel, on the "
    "0–255 scale divided by 255. Elsewhere ε is a small number added to avoid dividing by zero.",
    "feature map": "The grid of outputs that one filter produces over the whole input; a "
    "layer's output is a stack of them, one per channel.",
    "FGSM and PGD": "Two ways to build adversarial examples: FGSM takes one step along the sign "
    "of the gradient; PGD takes several small steps and stays within ε.",
    "filter": "A kernel across all input channels, plus its bias; each filter makes one output "
    "channel.",
    "fine-tuning": "Continuing to train a pretrained network on a new task, either all of it or "
    "only its last layers.",
    "flatten": "Unrolling a stack of feature maps into one long vector so a dense layer can "
    "read it.",
    "focal loss": "Cross-entropy scaled down on examples the network already gets right, so "
    "training attends to the hard ones. Its γ sets how strongly.",
    "global average pooling": "Averaging each whole feature map to one number, giving one "
    "value per channel whatever the image size.",
    "gradient": "How much the loss (or a score) changes when one number is nudged; training "
    "moves every weight against its gradient.",
    "Grad-CAM": "An explanation that weights a late layer's feature maps by their average "
    "gradient for one class and adds them up into a coarse heat map.",
    "group convolution": "A convolution that splits the channels into groups and convolves each "
    "group separately, cutting the weights by the number of groups.",
    "Huber loss": "A regression loss that is squared for small errors and grows linearly for "
    "large ones, so outliers pull less than with MSE.",
    "Inception block": "A block that runs convolutions of several sizes side by side and stacks "
    "their outputs, with 1×1 convolutions to keep it cheap.",
    "IoU (intersection over union)": "The overlap of a predicted region and the true region "
    "divided by the area they cover together. 1 is a perfect match.",
    "jump": "The distance, in input pixels, between neighbouring units of a layer. Every stride "
    "multiplies it.",
    "kernel": "The small grid of weights a convolution slides over its input, such as 3×3.",
    "label smoothing": "Training towards slightly softened targets (say 0.9 for the right class "
    "instead of 1), which keeps the network from becoming overconfident.",
    "learning rate": "The size of each step the optimizer takes against the gradient. Too "
    "large and training jumps about; too small and it crawls.",
    "logits": "The raw scores a classifier outputs before softmax; any real numbers, larger "
    "meaning more likely.",
    "loss": "The single number training makes smaller: how wrong the network's outputs are on "
    "a batch.",
    "MACs (multiply-accumulates)": "The count of multiply-then-add steps a layer needs for one "
    "image: a measure of how much computing it costs.",
    "max pooling": "Pooling that keeps the largest value of each window.",
    "MixUp": "An augmentation that blends two whole images and their labels with the same weight.",
    "MSE (mean squared error)": "The average of squared differences between prediction and "
    "target, the usual regression loss.",
    "one-cycle": "A learning-rate schedule that rises to a peak in the first part of training "
    "and then falls to nearly zero.",
    "optimizer": "The rule that turns gradients into weight updates, such as SGD or Adam.",
    "overfitting": "Learning the training images so closely, noise included, that accuracy on "
    "new images is worse: training loss keeps falling while validation loss rises.",
    "padding": "Extra cells (usually zeros) added around the input's border so the kernel can "
    "also centre on edge pixels and the output keeps its size.",
    "parameters": "The numbers a network learns: every weight and bias. Their count says how "
    "big the model is.",
    "precision": "Of the images the network put in a class, the share that truly belong there.",
    "pretrained": "Already trained on a large data set (such as ImageNet), ready to be reused.",
    "receptive field": "The patch of the input image that one unit can see, through all the "
    "layers below it.",
    "recall": "Of the images truly in a class, the share the network found.",
    "regression": "Predicting a number (a size, a position, an angle) instead of a class.",
    "ReLU": "The activation max(0, x): negative values become 0, positive values pass unchanged.",
    "residual connection (skip)": "A shortcut that adds a block's input to its output, so the "
    "block only learns a correction and gradients reach early layers more easily.",
    "ρ (Spearman's rho)": "A rank correlation between −1 and 1. The sanity check uses it to ask "
    "whether a saliency map stays the same when the model's weights are scrambled.",
    "saliency map": "A picture of how much each pixel mattered for the network's answer, drawn "
    "from an attribution method.",
    "sanity check": "A test of an explanation (Adebayo et al., 2018): scramble the model's "
    "weights; a map that does not change was describing the image, not the model.",
    "seed": "The starting number of a random generator; the same seed gives the same random "
    "choices, so a run can be repeated.",
    "segmentation": "Labelling every pixel of an image with a class, instead of the whole "
    "image with one.",
    "SGD (stochastic gradient descent)": "The basic optimizer: step every weight against its "
    "gradient measured on a small random batch.",
    "softmax": "Turns logits into probabilities that are positive and add up to 1; larger "
    "logits get larger shares.",
    "spectrogram": "A picture of a signal with time across and frequency up, made of short "
    "Fourier transforms, so a 2-D CNN can read sound.",
    "squeeze-and-excitation": "A block that averages each channel to one number, passes these "
    "through a tiny network and rescales each channel by the weight it returns.",
    "standardize": "Shift and scale inputs so each channel has mean 0 and spread 1, using the "
    "training set's statistics.",
    "stride": "How many pixels the kernel moves between one output cell and the next. Stride 2 "
    "halves the output's width and height.",
    "temperature": "A number that divides the logits before softmax: above 1 it flattens the "
    "probabilities, below 1 it sharpens them.",
    "transfer learning": "Reusing a network trained on one task as the start for another, "
    "which needs far less data than training from scratch.",
    "transposed convolution": "A learned upsampling layer that spreads each input cell over a "
    "larger output, used to grow maps back to image size.",
    "U-Net": "A segmentation network that shrinks the image to read it, grows it back, and "
    "joins same-size maps across with skip connections to keep fine detail.",
    "validation set": "Images held out from training, used only to measure how well the "
    "network does on examples it has not learned from.",
    "vanishing gradients": "Gradients that shrink layer by layer on the way back, so early "
    "layers of a deep plain network barely learn (exploding gradients grow instead).",
    "weight decay": "A pull of every weight towards zero at each step, which keeps weights "
    "small and often reduces overfitting.",
    "weights": "The learned numbers that multiply a layer's inputs, such as a kernel's taps.",
    "1×1 convolution": "A convolution with a one-pixel kernel: it mixes channels at each "
    "place without looking at neighbours, often to change the channel count cheaply.",
}


# The terms each page uses, by page file name (pages/<name>.py), for its popover.
# fmt: off
PAGE_TERMS: dict[str, tuple[str, ...]] = {
    "adversarial": ("adversarial example", "ε", "FGSM and PGD", "gradient", "accuracy",
        "cross-entropy"),
    "architectures": ("MACs", "parameters", "kernel", "stride", "receptive field",
        "1×1 convolution", "Inception block", "residual connection", "group convolution",
        "depthwise convolution", "batchnorm"),
    "attention": ("channel", "feature map", "squeeze-and-excitation", "CBAM", "Grad-CAM",
        "weights"),
    "augmentation": ("augmentation", "MixUp", "CutMix", "overfitting", "seed", "epoch"),
    "backprop": ("backpropagation", "gradient", "weights", "ReLU", "max pooling", "logits",
        "cross-entropy", "ε"),
    "build": ("convolution", "kernel", "stride", "padding", "dilation", "ceil_mode", "parameters",
        "MACs", "receptive field", "jump", "flatten", "global average pooling", "dropout", "bias"),
    "class_board": ("accuracy", "validation set", "seed", "learning rate"),
    "convolution": ("convolution", "kernel", "stride", "padding", "dilation", "bias", "ReLU",
        "ceil_mode", "jump", "receptive field", "transposed convolution"),
    "ensembles": ("ensemble", "accuracy", "calibration", "seed"),
    "experiments": ("learning rate", "batch size", "epoch", "dropout", "weight decay",
        "augmentation", "batchnorm", "one-cycle", "overfitting", "recall", "seed"),
    "feature_maps": ("feature map", "channel", "activation", "ReLU", "filter", "convolution"),
    "filters": ("filter", "kernel", "channel", "weights", "activation", "gradient", "pretrained"),
    "gradient_flow": ("gradient", "vanishing gradients", "backpropagation", "residual connection",
        "batchnorm", "ReLU", "SGD"),
    "imbalance": ("class imbalance", "accuracy", "recall", "precision", "cross-entropy",
        "class weights", "focal loss"),
    "lessons": ("convolution", "kernel", "stride", "padding", "dilation", "parameters", "loss",
        "gradient", "ε", "adversarial example"),
    "losses": ("loss", "logits", "softmax", "cross-entropy", "temperature", "label smoothing",
        "focal loss", "MixUp", "calibration", "gradient"),
    "neuron": ("channel", "kernel", "bias", "activation", "ReLU", "stride", "padding", "flatten",
        "logits", "softmax", "temperature"),
    "pooling": ("max pooling", "average pooling", "global average pooling", "stride", "padding",
        "ceil_mode", "feature map", "flatten"),
    "receptive_field": ("receptive field", "effective receptive field", "jump", "stride",
        "dilation", "padding", "kernel", "gradient"),
    "regression": ("regression", "MSE", "Huber loss", "loss", "epoch", "seed"),
    "regularization": ("overfitting", "dropout", "weight decay", "early stopping", "batchnorm",
        "augmentation", "standardize", "validation set", "epoch"),
    "saliency": ("saliency map", "attribution", "gradient", "Grad-CAM", "sanity check",
        "Spearman's rho"),
    "segmentation": ("segmentation", "U-Net", "IoU", "Dice score", "residual connection",
        "transposed convolution", "1×1 convolution"),
    "signals": ("spectrogram", "convolution", "kernel", "receptive field", "jump", "accuracy"),
    "train": ("epoch", "batch size", "learning rate", "optimizer", "loss", "softmax", "accuracy",
        "precision", "recall", "confusion matrix", "early stopping", "weight decay", "one-cycle",
        "validation set"),
    "transfer": ("transfer learning", "pretrained", "fine-tuning", "domain shift", "accuracy"),
}
# fmt: on


def _names(key: str) -> list[str]:
    """The ways to ask for `key`: itself, the part before its brackets, and what is inside."""
    match = re.fullmatch(r"(.+?) \((.+)\)", key)
    names = [key] if match is None else [key, match.group(1), match.group(2)]
    return [name.casefold() for name in names]


@cache
def _index() -> dict[str, str]:
    return {name: key for key in GLOSSARY for name in _names(key)}


def lookup(word: str) -> str:
    """The glossary key for `word` (any case, a full name or a short one); KeyError if none."""
    key = _index().get(word.strip().casefold())
    if key is None:
        raise KeyError(f"{word!r} is not in the glossary (ui/glossary.py)")
    return key


def term(word: str) -> str:
    """The definition of `word`, ready for a widget's `help=`."""
    return GLOSSARY[lookup(word)]


def entry(word: str) -> str:
    """One Markdown line: the term in bold, then its definition."""
    key = lookup(word)
    return f"**{key}**: {GLOSSARY[key]}"


def matching(query: str) -> list[str]:
    """Every key, alphabetically, whose name or definition contains `query` (any case)."""
    needle = query.strip().casefold()
    keys = sorted(GLOSSARY, key=str.casefold)
    return [k for k in keys if needle in k.casefold() or needle in GLOSSARY[k].casefold()]


def popover(words: Iterable[str]) -> None:
    """A small "Terms on this page" popover with the definitions of `words`."""
    lines = [entry(word) for word in words]
    if lines:
        with st.popover("Terms on this page", icon=":material/menu_book:"):
            st.markdown("\n\n".join(lines))


def popover_for(page: str) -> None:
    """The popover of the terms listed for `page` (its file name) in `PAGE_TERMS`."""
    popover(PAGE_TERMS.get(page, ()))


def glossary_section(key: str = "home.glossary") -> None:
    """Every term, alphabetically, under a search box, in a "Glossary" expander."""
    with st.expander("Glossary: every term the app uses", icon=":material/menu_book:"):
        query = st.text_input("Search the glossary", key=key, placeholder="e.g. stride")
        keys = matching(query)
        if not keys:
            st.info(f"No term mentions “{query.strip()}”. Try a shorter word.")
        st.markdown("\n\n".join(entry(k) for k in keys))
