"""Train the shipped checkpoints on built-in data: `python -m models.training.pretrain`.

Writes checkpoints/*.pt and checkpoints/manifest.json with each model's accuracy on held-out
data: freshly drawn shapes (a seed never used in training) or the digits' validation split.
Each recipe is a fixed number of epochs with a wall-clock cap (8 to 10 minutes per shapes model,
1 for digits). On an idle two-core CPU the epochs end first (TinyVGG trains at about 460 images/s
there); on a busy machine the cap ends training early and the best validation epoch is kept,
and the manifest records what was reached. `python -m models.training.pretrain "TinyVGG on shapes"`
retrains one model.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass

import torch

from models.bundle import ModelBundle
from models.data.datasets import ImageData, digits, prepare, shapes
from models.network.build import build_model
from models.network.presets import PRESETS
from models.network.spec import NetworkSpec
from models.training.checkpoint import MANIFEST, ROOT, SHIPPED, to_bytes
from models.training.engine import RANDOM_FLIPS, TrainConfig, train
from models.training.evaluate import evaluate

HELD_OUT_SEED = 12_345  # shapes drawn with this seed are never trained on


@dataclass(frozen=True)
class Recipe:
    spec: NetworkSpec
    data: str  # "shapes" or "digits"
    n: int  # shapes to draw (ignored for digits)
    config: TrainConfig
    budget_s: float  # wall-clock cap on training


RECIPES: dict[str, Recipe] = {
    "TinyVGG on shapes": Recipe(
        PRESETS["TinyVGG (CNN Explainer)"].spec,
        "shapes",
        8000,
        TrainConfig(epochs=20, lr=1e-3, schedule="cosine", augmentation=RANDOM_FLIPS, log_every=50),
        480,
    ),
    "Small CNN on digits": Recipe(
        PRESETS["LeNet-5"].spec,
        "digits",
        0,
        TrainConfig(epochs=10, lr=3e-3, schedule="cosine", log_every=50),
        60,
    ),
    "Attention CNN on shapes": Recipe(
        PRESETS["Attention CNN (SE + CBAM)"].spec,
        "shapes",
        6000,
        TrainConfig(epochs=20, lr=1e-3, schedule="cosine", augmentation=RANDOM_FLIPS, log_every=50),
        600,
    ),
}


def held_out(recipe: Recipe, n: int = 1000) -> ImageData | None:
    """Fresh shapes for testing; None for digits, which are tested on their validation split."""
    return shapes(n, HELD_OUT_SEED) if recipe.data == "shapes" else None


def accuracy(bundle: ModelBundle, data: ImageData) -> float:
    """Accuracy of a bundle on a whole data set, fitted to its input."""
    prepared = prepare(data, bundle.input_shape, 0.5, seed=0)
    x = torch.cat([prepared.train_x, prepared.val_x])
    y = torch.cat([prepared.train_y, prepared.val_y])
    k = len(bundle.class_names)
    return evaluate(bundle.model, x, y, bundle.mean, bundle.std, k).accuracy


def run(name: str, recipe: Recipe) -> dict:
    data = shapes(recipe.n, 0) if recipe.data == "shapes" else digits()
    prepared = prepare(data, recipe.spec.input_shape, 0.2, seed=0)
    model = build_model(recipe.spec, seed=0)
    stop = threading.Event()
    timer = threading.Timer(recipe.budget_s, stop.set)
    timer.start()
    start, last = time.perf_counter(), None
    for last in train(model, prepared, recipe.config, stop):
        if last.kind == "epoch":
            print(f"  {name}: epoch {last.epoch} val acc {last.val_acc:.3f}", flush=True)
    timer.cancel()
    bundle = ModelBundle(
        model.eval(),
        name,
        recipe.spec.input_shape,
        prepared.class_names,
        prepared.mean,
        prepared.std,
        recipe.spec,
        trained=True,
    )
    test = held_out(recipe)
    if test is None:
        acc = evaluate(
            model,
            prepared.val_x,
            prepared.val_y,
            prepared.mean,
            prepared.std,
            len(prepared.class_names),
        ).accuracy
        where = "the digits' validation split (20%, seed 0), never trained on"
    else:
        acc = accuracy(bundle, test)
        where = f"1,000 fresh shapes drawn with seed {HELD_OUT_SEED}"
    summary = {
        "held_out_accuracy": round(acc, 4),
        "held_out": where,
        "train_seconds": round(time.perf_counter() - start, 1),
        "epochs": last.epoch if last else 0,
        "train_images": len(prepared.train_y),
        "note": last.note if last else "",
    }
    (ROOT / SHIPPED[name]).write_bytes(to_bytes(bundle, summary))
    return summary


def main(names: list[str] | None = None) -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    (ROOT / "checkpoints").mkdir(exist_ok=True)
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}
    for name in names or list(RECIPES):
        print(f"Training {name}…", flush=True)
        manifest[name] = run(name, RECIPES[name])
        print(f"  {name}: {manifest[name]}", flush=True)
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"which to train (default all): {list(RECIPES)}")
    main(parser.parse_args().names)
