"""Private random streams: seeded like the global generator, restored after, and undisturbed by
other threads that use streams of their own."""

from __future__ import annotations

import threading

import numpy as np
import torch

from models.rng import RandomStream, private_stream


def _draws(stream: RandomStream | int, n: int = 5) -> list[float]:
    with private_stream(stream):
        return torch.rand(n).tolist() + np.random.rand(n).tolist()


def test_a_stream_draws_what_the_global_generators_would_after_seeding_them():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        np_state = np.random.get_state()
        np.random.seed(7)
        expected = torch.rand(5).tolist() + np.random.rand(5).tolist()
        np.random.set_state(np_state)
    assert _draws(7) == expected


def test_making_and_using_a_stream_leaves_the_global_generators_as_they_were():
    torch_before, np_before = torch.get_rng_state(), np.random.get_state()
    stream = RandomStream(3)
    _draws(stream)
    assert torch.equal(torch.get_rng_state(), torch_before)
    assert np.array_equal(np.random.get_state()[1], np_before[1])


def test_a_stream_goes_on_where_it_stopped_as_one_long_block_would():
    stream = RandomStream(11)
    pieces = _draws(stream, 3)[:3]
    pieces += _draws(stream, 3)[:3]
    with private_stream(11):
        whole = torch.rand(6).tolist()
    assert pieces == whole


def test_threads_drawing_on_their_own_streams_get_what_they_would_alone():
    alone = {}
    for seed in (1, 2):
        stream = RandomStream(seed)
        alone[seed] = [_draws(stream) for _ in range(50)]
    together: dict[int, list] = {}

    def worker(seed: int) -> None:
        stream = RandomStream(seed)
        together[seed] = [_draws(stream) for _ in range(50)]

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert together == alone


def test_a_torch_only_stream_swaps_torch_alone_and_draws_the_same_torch_numbers():
    np.random.seed(5)
    expected_np = np.random.rand(3).tolist()
    np.random.seed(5)
    with private_stream(RandomStream(7, numpy=False)):
        torch_draws, np_draws = torch.rand(5).tolist(), np.random.rand(3).tolist()
    assert torch_draws == _draws(7)[:5]
    assert np_draws == expected_np  # NumPy's global generator went on as if nothing happened
