"""The server's cost of one live redraw of the Train page near the end of a default run.

    python -m benchmarks.live_tick [--ticks 50] [--epochs 10] [--steps 100]

A 10-epoch default run has 1,000 steps and reports every 5: 200 step reports and 10 epoch
reports (real `TrainMetrics`, fed to a real `JobHandle`). Each tick does what the live panel
does once a second: `JobHandle.snapshot()`, the progress line
(`ui.panels.train.progress_text`, a pure function), `LiveCurves.update(history)` and what
`st.plotly_chart` does with the figure (`plotly.tools.return_figure_from_figure_or_data(fig,
True)`, then `plotly.io.to_json(..., validate=False)`). The ticks replay the run's last
reports, one more each tick. Baseline: the first wave's redraw, which built the figure from
scratch (`viz.train.curves_figure(history)`) and serialised it the same way. Prints the median
tick in ms (goal < 10 ms) and its ratio to the baseline's.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import plotly.io
import plotly.tools

from models.training.engine import TrainConfig, TrainMetrics
from models.training.executor import JobHandle, JobInfo
from ui.panels.train import progress_text
from viz.train import LiveCurves, curves_figure

EVERY = 5  # steps between step reports (TrainConfig.log_every)


def reports(epochs: int, per_epoch: int, batch: int) -> list[TrainMetrics]:
    """A plausible run's reports in order: steps every 5, an epoch report after each epoch."""
    total, out = epochs * per_epoch, []
    for step in range(1, total + 1):
        epoch = (step - 1) // per_epoch + 1
        loss = 1.6 * math.exp(-step / 300) + 0.1
        if step % EVERY == 0:
            out.append(
                TrainMetrics(
                    *("step", epoch, step, total, step * batch, loss, 1 - loss / 1.7),
                    *(3e-3 * math.sin(math.pi * step / total) + 1e-6, 700.0, 1.0, step / 20),
                )
            )
        if step % per_epoch == 0:
            out.append(
                TrainMetrics(
                    *("epoch", epoch, step, total, step * batch, loss, 1 - loss / 1.7),
                    *(1e-4, 700.0, 1.0, step / 20),
                    val_loss=loss * 1.1,
                    val_acc=1 - loss / 1.6,
                )
            )
    return out


def serialise(fig) -> str:
    """What st.plotly_chart does with a figure before it is sent."""
    figure = plotly.tools.return_figure_from_figure_or_data(fig, True)
    return plotly.io.to_json(figure, validate=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100, help="steps per epoch")
    args = parser.parse_args()
    config = TrainConfig(epochs=args.epochs)
    history = reports(args.epochs, args.steps, config.batch_size)
    info = JobInfo(
        *("bench", "live tick", config, None, ("a", "b"), (0.5,) * 3, (0.2,) * 3, (3, 64, 64)),
        *(args.steps * config.batch_size, 800, "shapes"),
    )
    handle = JobHandle(info)
    first_tick = len(history) - args.ticks
    for m in history[:first_tick]:
        handle._add(m)
    curves = LiveCurves()
    curves.update(handle.snapshot().history)  # the figure exists from the run's first redraw
    parts = {"snapshot": [], "progress": [], "update": [], "serialise": []}
    ticks, baseline, size = [], [], 0
    for m in history[first_tick:]:
        handle._add(m)
        t0 = time.perf_counter()
        snap = handle.snapshot()
        t1 = time.perf_counter()
        share, line = progress_text(snap, config.batch_size)
        _ = f"**{snap.status.capitalize()}** · {line}"
        t2 = time.perf_counter()
        fig = curves.update(snap.history)
        t3 = time.perf_counter()
        size = len(serialise(fig))
        t4 = time.perf_counter()
        for name, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            parts[name].append(seconds)
        ticks.append(t4 - t0)
        t0 = time.perf_counter()
        serialise(curves_figure(handle.snapshot().history))
        baseline.append(time.perf_counter() - t0)
    ms = {name: 1000 * statistics.median(v) for name, v in parts.items()}
    tick, base = 1000 * statistics.median(ticks), 1000 * statistics.median(baseline)
    print(
        f"{len(history)} reports ({sum(m.kind == 'step' for m in history)} step), "
        f"{args.ticks} ticks; figure JSON {size / 1024:.0f} KB"
    )
    print("  median parts: " + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items()))
    print(f"  baseline (figure built each tick + serialised): {base:.1f} ms")
    print(f"median tick {tick:.1f} ms (goal < 10 ms); ÷ baseline {tick / base:.2f}")


if __name__ == "__main__":
    main()
