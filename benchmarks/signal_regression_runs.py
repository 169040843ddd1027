"""Time the Signals and Regression pages' default runs on the executor, and print what they show.

    CNNLAB_EXECUTOR=thread python -m benchmarks.signal_regression_runs [--only signals|regression]

Each default comparison is planned as the page plans it and submitted to the server's executor
(`executor_from_settings`; "thread" runs it in this process, one run at a time per worker).
Prints each run's wall time and its result: validation accuracy for the signal networks, the
mean absolute error in the target's unit for each regression head. The budget is 60 s a run.
"""

from __future__ import annotations

import argparse
import time

from models.training import regression as reg
from models.training import signals as sig
from models.training.executor import executor_from_settings

BUDGET_S = 60.0


def _run(executor, planned) -> dict:
    """Submit the runs one after another (as a one-worker server would) and time each."""
    out = {}
    for run in planned:
        start = time.perf_counter()
        handle = executor.submit(run.request)
        handle.join()
        out[run.label] = (time.perf_counter() - start, handle)
    return out


def signals() -> None:
    setup = sig.SignalSetup()
    done = _run(executor_from_settings(), sig.plan_signal_runs(setup))
    for label, (seconds, handle) in done.items():
        result = handle.result()
        acc = f"{result.evaluation.accuracy:.1%}" if result else handle.snapshot().error
        flag = "" if seconds <= BUDGET_S else "  OVER BUDGET"
        print(f"signals  {label:32s} {seconds:6.1f} s  validation accuracy {acc}{flag}")


def regression() -> None:
    for target in reg.TARGET_NAMES:
        setup = reg.RegressionSetup(target=target)
        split = reg.prepare_split(setup)
        planned = reg.plan_regression_runs(setup, split)
        done = _run(executor_from_settings(), planned)
        for run in planned:
            seconds, handle = done[run.label]
            model = handle.outcome().model
            measured = reg.measure(run.value, model, split) if model is not None else None
            unit = reg.UNITS[target]
            mae = f"{measured.mean_abs_error:.2f} {unit}" if measured else handle.snapshot().error
            extra = ""
            if measured is not None and target == "angle" and run.value.head == "value":
                near, rest = reg.wrap_errors(measured)
                extra = f" (within 20° of 0°: {near:.1f}°, elsewhere {rest:.1f}°)"
            flag = "" if seconds <= BUDGET_S else "  OVER BUDGET"
            print(
                f"{target:8s} {run.label:32s} {seconds:6.1f} s  mean abs error {mae}{extra}{flag}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("signals", "regression"))
    args = parser.parse_args()
    if args.only != "regression":
        signals()
    if args.only != "signals":
        regression()


if __name__ == "__main__":
    main()
