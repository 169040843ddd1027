"""Server settings read from the environment: one parser, so every cap behaves the same way."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from models.errors import CNNLabError


def positive_setting(
    name: str,
    default: float,
    error: type[CNNLabError] = CNNLabError,
    env: Mapping[str, str] | None = None,
) -> float:
    """The environment variable `name` as a positive number, `default` when unset.

    A value that is not a positive finite number raises `error` naming the variable, so a
    server owner's typo is said at once rather than quietly replaced by the default.
    """
    text = (os.environ if env is None else env).get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise error(f"the server setting {name} must be a positive number, not {text[:40]!r}")
    return value
