"""The few-shot head on synthetic vectors: labels are directions, examples noisy copies."""

import numpy as np
import pytest

from services.classifier import head

LABELS, DIMENSIONS, SHOTS = 4, 48, 8


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def draw(centres, per_label, noise, rng):
    labels = np.repeat(np.arange(len(centres)), per_label)
    vectors = unit(centres[labels] + noise * rng.standard_normal((len(labels), centres.shape[1])))
    return vectors, labels


@pytest.fixture
def world():
    rng = np.random.default_rng(7)
    centres = unit(rng.standard_normal((LABELS, DIMENSIONS)))
    examples, labels = draw(centres, SHOTS, 0.5, rng)
    held, truth = draw(centres, 200, 0.5, rng)
    return centres, examples, labels, held, truth


def accuracy(fitted, held, truth):
    return float(np.mean(fitted.probabilities(held).argmax(axis=1) == truth))


def test_probabilities_are_a_distribution_per_text(world):
    centres, examples, labels, held, _ = world
    probabilities = head.fit(centres, examples, labels, 25.0).probabilities(held)
    assert probabilities.shape == (len(held), LABELS)
    assert probabilities.sum(axis=1) == pytest.approx(np.ones(len(held)))


def test_a_prompt_that_names_the_label_well_is_kept_beside_few_noisy_examples(world):
    centres, examples, labels, held, truth = world
    with_prior = accuracy(head.fit(centres, examples, labels, 25.0), held, truth)
    without = accuracy(head.fit(centres, examples, labels), held, truth)
    assert with_prior > without


def test_a_misleading_prompt_is_given_no_weight(world):
    centres, examples, labels, _, _ = world
    # Each label's prompt points at the next label's examples.
    misleading = np.roll(centres, 1, axis=0)
    prior = head.fit(misleading, examples, labels, 25.0)
    none = head.fit(misleading, examples, labels)
    assert prior.weights == pytest.approx(none.weights)


def test_few_noisy_examples_in_many_dimensions_are_held_near_a_faithful_prompt():
    rng = np.random.default_rng(2)
    centres = unit(rng.standard_normal((LABELS, 384)))
    examples, labels = draw(centres, 4, 2.0 / np.sqrt(8), rng)
    assert head.fit(centres, examples, labels).penalty == max(head.PENALTIES)


def test_plentiful_clean_examples_may_depart_from_a_misleading_prompt():
    rng = np.random.default_rng(2)
    centres = unit(rng.standard_normal((LABELS, DIMENSIONS)))
    examples, labels = draw(centres, 32, 0.5, rng)
    misleading = np.roll(centres, 1, axis=0)
    assert head.fit(misleading, examples, labels).penalty == min(head.PENALTIES)
