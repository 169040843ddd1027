"""`ui.results.shared`: one result per distinct input value for every session, by value."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.operations import convolution as conv
from models.operations import kernels as kern
from ui import results
from ui.panels import convolution as panels


def _counted():
    calls: list[tuple] = []

    def build(*args):
        calls.append(args)
        return {"built": len(calls)}

    return build, calls


def test_equal_values_share_one_result_and_other_values_get_their_own():
    build, calls = _counted()
    first = results.shared(build, np.arange(6.0), "a")
    assert results.shared(build, np.arange(6.0), "a") is first  # a new array, the same values
    assert results.shared(build, np.arange(6.0) + 1, "a") is not first
    assert results.shared(build, np.arange(6.0), "b") is not first
    assert len(calls) == 3


def test_two_functions_with_the_same_arguments_do_not_share():
    build_a, _ = _counted()
    build_b, _ = _counted()
    assert results.shared(build_a, 1) is not results.shared(build_b, 1)


def test_the_oldest_results_go_first_when_the_store_is_full():
    store = results._Shared(max_entries=2)
    store.get_or_build("a", lambda: 1)
    store.get_or_build("b", lambda: 2)
    store.get_or_build("a", lambda: 0)  # used again: now the newest
    store.get_or_build("c", lambda: 3)
    assert list(store.items) == ["a", "c"]


def test_an_error_is_not_remembered():
    calls = []

    def refuse() -> None:
        calls.append(1)
        raise conv.ConvolutionError("no")

    for _ in range(2):
        with pytest.raises(conv.ConvolutionError):
            results.shared(refuse)
    assert len(calls) == 2


def test_the_image_tab_view_is_shared_between_copies_of_one_image():
    pixels = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    spec = kern.KernelSpec("Sobel x", 3)
    view = panels.image_view(Image.fromarray(pixels), spec, 0.0, False, ["Sobel x", "Laplacian"])
    again = panels.image_view(Image.fromarray(pixels), spec, 0.0, False, ["Sobel x", "Laplacian"])
    assert again is view and view.shape == (40, 50) and view.layer.maps.shape[0] == 2
    other = panels.image_view(Image.fromarray(pixels), spec, 0.5, False, ["Sobel x", "Laplacian"])
    assert other is not view and view.summed_png.startswith(b"\x89PNG")


def _heatmap(values: np.ndarray):
    import plotly.graph_objects as go

    return go.Figure(go.Heatmap(z=values, uid="kept-out"), layout={"title": {"text": "map"}})


def test_a_shared_figure_is_turned_into_a_dict_once_and_sent_as_a_fresh_one_would_be():
    import plotly.io as pio

    values = np.arange(12.0).reshape(3, 4)
    figure = results.shared(_heatmap, values)
    assert isinstance(figure, results.SharedFigure)
    assert figure.to_dict() is figure.to_dict()  # made once, at the first run that shows it
    # what st.plotly_chart sends: the same JSON as for a figure never shared, run after run
    fresh = pio.to_json(_heatmap(values), validate=False)
    assert pio.to_json(figure, validate=False) == fresh
    assert pio.to_json(figure, validate=False) == fresh


def test_figures_inside_a_shared_tuple_or_dataclass_are_made_once_too():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class View:
        picture: object
        label: str

    def build(values):
        return View(_heatmap(values), "x"), (_heatmap(values + 1),)

    view, more = results.shared(build, np.ones((2, 2)))
    assert isinstance(view.picture, results.SharedFigure)
    assert isinstance(more[0], results.SharedFigure)


def test_a_dataclass_key_follows_its_fields_values_and_names():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Layer:
        name: str
        weights: np.ndarray

    @dataclasses.dataclass(frozen=True)
    class Other:
        name: str
        weights: np.ndarray

    key = results.value_key(Layer("conv", np.ones(3)))
    assert results.value_key(Layer("conv", np.ones(3))) == key  # a copy with equal values
    assert results.value_key(Layer("conv", np.array([1.0, 1.0, 2.0]))) != key
    assert results.value_key(Layer("pool", np.ones(3))) != key
    assert results.value_key(Other("conv", np.ones(3))) != key


def _bundle():
    from models.bundle import untrained_bundle
    from models.network.presets import PRESETS

    return untrained_bundle(next(iter(PRESETS.values())).spec)


def test_only_results_of_shared_models_are_class_wide():
    from ui import shared_models

    own, shipped = _bundle(), _bundle()
    shared_models._SHARED_TOKENS.add(shipped.token)  # as shipped_model() does for its bundle
    try:
        assert results.class_wide((shipped, np.ones(3), "settings", {"a": 1}))
        assert not results.class_wide((shipped, own))  # a session's own model is in it
        assert not results.class_wide({"model": own})
        assert results.class_wide(("no model at all", 3))
    finally:
        shared_models._SHARED_TOKENS.discard(shipped.token)


def test_memo_on_a_shared_model_computes_once_for_every_session():
    from ui import shared_models

    shipped = _bundle()
    shared_models._SHARED_TOKENS.add(shipped.token)
    calls = []
    try:
        first = results.memo("test", "x", (shipped, 1), lambda: calls.append(1) or ["made"])
        again = results.memo("test", "x", (shipped, 1), lambda: calls.append(1) or ["other"])
        assert again is first and calls == [1]
        assert results.memo("test", "x", (shipped, 2), lambda: ["two"]) == ["two"]
        assert results.memo("test", "y", (shipped, 1), lambda: ["y"]) == ["y"]  # a name each
    finally:
        shared_models._SHARED_TOKENS.discard(shipped.token)


def test_sessions_asking_at_once_for_a_missing_result_wait_for_one_build():
    import threading
    import time

    store = results._Shared(max_entries=8)
    calls = []

    def build():
        calls.append(1)
        time.sleep(0.2)  # long enough for every other thread to ask meanwhile
        return object()

    got = []
    threads = [
        threading.Thread(target=lambda: got.append(store.get_or_build("k", build)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(got) == 8 and all(g is got[0] for g in got)
    assert not store.building  # nothing left behind


def test_when_the_one_build_fails_a_waiting_session_tries_again():
    import threading
    import time

    store = results._Shared(max_entries=8)
    attempts = []

    def build():
        attempts.append(1)
        time.sleep(0.1)
        if len(attempts) == 1:
            raise RuntimeError("first one fails")
        return "ok"

    outcomes = []

    def ask():
        try:
            outcomes.append(store.get_or_build("k", build))
        except RuntimeError:
            outcomes.append("failed")

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["failed", "ok", "ok"] and len(attempts) <= 3
    assert not store.building


def test_builds_inside_builds_never_wait_for_each_other_in_a_circle():
    import threading

    store = results._Shared(max_entries=8)
    both_started = threading.Barrier(2)

    def outer(mine: str, other: str):
        def build():
            both_started.wait(5)  # each thread now holds its own key's build
            return ("made", store.get_or_build(other, lambda: other))  # and asks for the other

        return lambda: store.get_or_build(mine, build)

    got = {}
    threads = [
        threading.Thread(target=lambda k=k, o=o: got.setdefault(k, outer(k, o)()))
        for k, o in (("a", "b"), ("b", "a"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "the two builds hung"
    assert got["a"][0] == "made" and got["b"][0] == "made"


def test_the_store_is_bounded_by_the_bytes_of_its_arrays():
    store = results._Shared(max_entries=100, max_bytes=4000)
    for key in "abcd":
        store.get_or_build(key, lambda: np.zeros(125))  # 1,000 bytes each
    store.get_or_build("e", lambda: np.zeros(125))
    assert list(store.items) == ["b", "c", "d", "e"] and store.total_bytes == 4000
    big = store.get_or_build("big", lambda: np.zeros(500))  # 4,000 bytes: over a quarter
    assert big.shape == (500,) and "big" not in store.items  # handed out, not kept


def test_nbytes_counts_arrays_inside_figures_dataclasses_and_containers():
    import plotly.graph_objects as go

    figure = go.Figure(go.Heatmap(z=np.zeros((10, 10))))
    assert results.nbytes(figure) >= 800
    assert results.nbytes({"a": (np.zeros(4), b"12345")}) == 32 + 5
    assert results.nbytes(torch_tensor_of(6)) == 24


def torch_tensor_of(n: int):
    import torch

    return torch.zeros(n, dtype=torch.float32)


def test_arrays_with_the_same_bytes_but_another_shape_or_type_get_other_keys():
    flat = np.arange(6, dtype=np.float32)
    assert results.value_key(flat) != results.value_key(flat.reshape(2, 3))
    assert results.value_key(flat) != results.value_key(flat.view(np.int32))
    assert results.value_key(flat) == results.value_key(np.arange(6, dtype=np.float32))
