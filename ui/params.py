"""The one widget factory for settings described as `models.params.Param`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

from models.params import Param


def param_widget(param: Param, key: str, disabled: bool = False) -> Any:
    """A widget for one setting, keyed `key` (page-prefixed); its value, re-checked.

    A choice is a selectbox; a number is a slider, or a number box where `param.typed`. A
    stored choice that is no longer among the options (a layer of the previous model) goes back
    to the default.
    """
    if param.options:
        if key in st.session_state and st.session_state[key] not in param.options:
            del st.session_state[key]
        index = param.options.index(param.default) if param.default in param.options else 0
        value = st.selectbox(
            param.label, param.options, index, key=key, help=param.help, disabled=disabled
        )
        return param.check(value)
    cast = int if param.is_int else float
    low, high, default = cast(param.low), cast(param.high), cast(param.default)
    step = cast(param.step or (1 if param.is_int else 0.01))
    widget = st.number_input if param.typed else st.slider
    value = widget(
        param.label, low, high, default, step, key=key, help=param.help, disabled=disabled
    )
    return param.check(value)


def param_widgets(params: Iterable[Param], key_prefix: str, disabled: bool = False) -> dict:
    """One widget per setting, keyed `<key_prefix>.<name>`: {name: value}."""
    return {p.name: param_widget(p, f"{key_prefix}.{p.name}", disabled) for p in params}
