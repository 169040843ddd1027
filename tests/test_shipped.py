"""The shipped checkpoints load and still reach the accuracy the manifest (and README) states."""

from __future__ import annotations

import pytest

from models.training.checkpoint import SHIPPED, load_shipped, manifest
from models.training.pretrain import RECIPES, accuracy, held_out

MARGIN = 0.03  # fresh data differs a little from the data the figure was measured on


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_checkpoint_is_small_and_loads_as_a_trained_model(name):
    from models.training.checkpoint import ROOT

    assert (ROOT / SHIPPED[name]).stat().st_size < 1_000_000
    bundle = load_shipped(name)
    assert bundle.trained and bundle.spec is not None and len(bundle.class_names) == 10


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_checkpoint_reaches_its_stated_accuracy_on_held_out_data(name):
    stated = manifest()[name]["held_out_accuracy"]
    bundle = load_shipped(name)
    data = held_out(RECIPES[name], n=500)
    if data is None:  # digits: the validation split named in the manifest
        from models.data.datasets import digits, prepare
        from models.training.evaluate import evaluate

        p = prepare(digits(), bundle.input_shape, 0.2, seed=0)
        got = evaluate(bundle.model, p.val_x, p.val_y, bundle.mean, bundle.std, 10).accuracy
    else:
        got = accuracy(bundle, data)
    assert got >= stated - MARGIN, f"{name}: {got:.3f} on held-out data, manifest says {stated}"
