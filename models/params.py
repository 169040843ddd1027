"""Controls described as data: one `Param` per setting, from which a page makes its widget.

Augmentations and attribution methods list their settings as `Param`s; `ui/params.py` turns
each into a widget, and `Param.check` re-checks the value a widget sends back, so a number
from the browser is never trusted as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.errors import CNNLabError


class ParamError(CNNLabError):
    """A setting's value outside its range or choices, with the setting's label."""


@dataclass(frozen=True)
class Param:
    """One setting: a number in [low, high] (or a choice among `options`).

    An int `default` makes an integer setting. A setting whose options depend on the model
    (a layer to read) leaves `options` empty here and gets them with `dataclasses.replace`.
    """

    name: str  # the key of the value in the settings dict
    label: str  # what the widget says, with the unit
    default: Any
    low: float = 0.0
    high: float = 1.0
    step: float | None = None  # None: 1 for an int, 0.01 for a float
    options: tuple[Any, ...] = ()  # a choice among these instead of a number
    help: str | None = None  # the widget's tooltip
    typed: bool = False  # a number box rather than a slider (wide ranges, exact values)

    @property
    def is_int(self) -> bool:
        return isinstance(self.default, int) and not isinstance(self.default, bool)

    def check(self, value: Any) -> Any:
        """The value, as an int or a float where the setting is a number; ParamError if it is
        not one of the options or not in [low, high]."""
        if self.options:
            if value not in self.options:
                raise ParamError(f"{self.label}: {value!r} is not one of {self.options}")
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ParamError(f"{self.label}: {value!r} is not a number") from None
        if not self.low <= number <= self.high:
            raise ParamError(
                f"{self.label} must be between {self.low:g} and {self.high:g}, not {number:g}"
            )
        if self.is_int:
            if number != int(number):
                raise ParamError(f"{self.label} must be a whole number, not {number:g}")
            return int(number)
        return number
