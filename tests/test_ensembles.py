"""Ensembles: averaging and voting checked on tiny hand-made probabilities, and the members'
probabilities against a hand-run softmax."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from models.bundle import ModelBundle
from models.network.build import build_model
from models.training.ensembles import (
    VERDICTS,
    EnsembleError,
    average_vote,
    combine,
    ensemble_setup,
    majority_vote,
    member_probabilities,
    plan_members,
    rows_for_download,
    validation_data,
    verdict,
)
from tests.test_train import TINY
from viz.ensembles import accuracy_figure, disagreement_figure

# Three members, three images, two classes, written image by image. Image 0: all say class 0.
# Image 1: two members say 1, one says 0 and is sure of it. Image 2: the same split, less sure.
BY_IMAGE = torch.tensor(
    [
        [[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]],
        [[0.99, 0.01], [0.4, 0.6], [0.4, 0.6]],
        [[0.95, 0.05], [0.45, 0.55], [0.45, 0.55]],
    ]
)
PROBS = BY_IMAGE.transpose(0, 1)  # (members, images, classes)
LABELS = torch.tensor([0, 0, 1])


def test_averaging_takes_the_mean_of_the_members_probabilities():
    expected = torch.tensor([[0.8, 0.2], [0.5967, 0.4033], [0.6167, 0.3833]])
    assert torch.allclose(average_vote(PROBS), expected, atol=1e-4)


def test_voting_counts_each_members_top_class():
    assert majority_vote(PROBS).tolist() == [0, 1, 1]


def test_a_tied_vote_goes_to_the_class_with_the_higher_average():
    probs = torch.tensor(
        [[[0.6, 0.4, 0.0]], [[0.0, 0.45, 0.55]], [[0.2, 0.7, 0.1]], [[0.1, 0.2, 0.7]]]
    )
    # votes 0, 2, 1, 2: class 2 wins outright, although class 1 has the higher average
    assert majority_vote(probs).tolist() == [2]
    tie = torch.tensor([[[0.9, 0.1]], [[0.4, 0.6]]])  # one vote each; the average favours 0
    assert majority_vote(tie).tolist() == [0]


def test_combine_scores_members_and_both_ensembles_and_lists_the_disputed_images():
    result = combine(PROBS, LABELS)
    assert result.member_acc == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert result.average_pred.tolist() == [0, 0, 0]  # the sure member outweighs two unsure
    assert result.vote_pred.tolist() == [0, 1, 1]
    assert result.average_acc == pytest.approx(2 / 3) and result.vote_acc == pytest.approx(2 / 3)
    assert result.disagree == (1, 2)  # the least sure first: 0.597, then 0.617
    assert result.confidence == pytest.approx((0.5967, 0.6167), abs=1e-4)
    assert verdict(result) == "as good as the best member"


def test_averaging_can_beat_every_member_when_their_mistakes_differ():
    probs = torch.tensor([[[0.9, 0.1], [0.6, 0.4]], [[0.4, 0.6], [0.1, 0.9]]])
    result = combine(probs, torch.tensor([0, 1]))
    assert result.member_acc == (0.5, 0.5) and result.average_acc == 1.0
    assert verdict(result) == VERDICTS[0]


def test_combine_refuses_probabilities_that_do_not_match_the_labels():
    with pytest.raises(EnsembleError, match="one per label"):
        combine(PROBS, torch.tensor([0, 1]))


def test_member_probabilities_feed_each_member_as_it_was_trained_and_leave_its_mode():
    models = [build_model(TINY, seed=s).train() for s in (0, 1)]
    bundles = [
        ModelBundle(m, f"m{i}", (1, 8, 8), ("a", "b"), (0.5,), (0.25,), TINY)
        for i, m in enumerate(models)
    ]
    images = torch.randint(
        0, 256, (4, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    probs = member_probabilities(bundles, images)
    assert probs.shape == (2, 4, 2)
    with torch.no_grad():
        by_hand = torch.softmax(models[1].eval()((images.float() / 255 - 0.5) / 0.25), 1)
    assert torch.allclose(probs[1], by_hand, atol=1e-6)
    assert models[0].training  # restored after the eval-mode pass
    with pytest.raises(EnsembleError):
        member_probabilities([], images)


def test_every_member_trains_on_the_same_split_with_its_own_seed():
    small = replace(ensemble_setup(), images=60)
    runs = plan_members(small, members=3)
    assert [r.request.config.seed for r in runs] == [0, 1, 2]
    assert len({id(r.request.data) for r in runs}) == 1
    again = validation_data(small)
    assert torch.equal(again.val_x, runs[0].request.data.val_x)
    assert torch.equal(again.val_y, runs[0].request.data.val_y)
    with pytest.raises(EnsembleError):
        plan_members(small, members=1)


def test_the_download_has_one_row_per_image_with_every_answer():
    rows = rows_for_download(combine(PROBS, LABELS), LABELS, ("zero", "one"))
    assert len(rows) == 3
    assert rows[2] == {
        "image": 2,
        "true": "one",
        "seed 0": "zero",
        "seed 1": "one",
        "seed 2": "one",
        "average": "zero",
        "vote": "one",
    }


def test_the_figures_show_every_member_and_every_disputed_image():
    fig = accuracy_figure([0.5, 0.6], 0.7, 0.65)
    assert list(fig.data[0].x) == ["seed 0", "seed 1", "averaged", "majority vote"]
    images = torch.zeros(3, 8, 8, 3, dtype=torch.uint8).numpy()
    assert len(disagreement_figure(images, ["a", "b", "c"]).data) == 3
    assert disagreement_figure(images[:0], []).layout.title.text.startswith("The members agree")
