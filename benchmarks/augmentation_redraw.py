"""How long the Augmentation page takes to redraw its grid: 16 samples of a 224×224 image.

Prints milliseconds per redraw (median of several) for the default pipeline and for each
augmentation alone, and the ratio to a baseline run in the same process: resizing the same 16
images to 224×224, the least any redraw must do. Run from the repo root:

    python -m benchmarks.augmentation_redraw [--repeats 5]
"""

from __future__ import annotations

import argparse

from PIL import Image

from benchmarks.timing import median_s
from models.data import augment as aug
from models.data.samples import SAMPLE_IMAGES

N, SIDE = 16, 224


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    photo = next(iter(SAMPLE_IMAGES.values()))().resize((SIDE, SIDE))
    big = photo.resize((2 * SIDE, 2 * SIDE))

    def baseline() -> None:
        [big.resize((SIDE, SIDE), Image.Resampling.BILINEAR) for _ in range(N)]

    base = 1000 * median_s(baseline, args.repeats)
    print(f"baseline: resize {N} images to {SIDE}×{SIDE}: {base:.1f} ms")
    cases = {"default pipeline": aug.DEFAULT_PIPELINE}
    cases |= {name: aug.PipelineSpec((aug.StepSpec(name),)) for name in aug.AUGMENTATIONS}
    print(f"{'pipeline':<28}{'ms per redraw':>14}{'× baseline':>12}  under 200 ms")
    for name, spec in cases.items():
        ms = 1000 * median_s(
            lambda s=spec: aug.sample_grid(photo, s, N, seed=0, side=SIDE), args.repeats
        )
        print(f"{name:<28}{ms:>14.1f}{ms / base:>12.1f}  {'yes' if ms < 200 else 'NO'}")


if __name__ == "__main__":
    main()
