import pytest

from services.classifier.labels import resolve_labels
from services.classifier.zero_shot import LabelSpec, classify, softmax, validate_labels
from services.common.errors import InvalidInput


@pytest.fixture
def embed(encoder):
    async def embed(texts):
        encoded = encoder.encode(texts)
        return encoded.vectors, sum(encoded.tokens), encoder.model_id

    return embed


async def test_scores_cover_every_label_sum_to_one_and_rank_best_first(embed):
    labels = [LabelSpec("sport"), LabelSpec("finance"), LabelSpec("cooking")]
    result = await classify("The striker scored twice in the cup final.", labels, embed)
    assert next(name for name, _ in result.scores) == result.label == "sport"
    assert {name for name, _ in result.scores} == {"sport", "finance", "cooking"}
    assert sum(score for _, score in result.scores) == pytest.approx(1.0)
    assert result.tokens > 0


async def test_examples_pull_a_label_toward_texts_like_them(embed):
    text = "Quarterly revenue grew 12 percent."
    plain = [LabelSpec("alpha"), LabelSpec("beta")]
    with_examples = [
        LabelSpec("alpha"),
        LabelSpec("beta", examples=("Profits rose this year.", "Sales were up in Q2.")),
    ]
    before = dict((await classify(text, plain, embed)).scores)["beta"]
    after = dict((await classify(text, with_examples, embed)).scores)["beta"]
    assert after > before


def test_softmax_is_a_distribution_that_keeps_the_order():
    probabilities = softmax(__import__("numpy").array([0.2, 0.5, 0.1]))
    assert probabilities.sum() == pytest.approx(1.0)
    assert list(probabilities.argsort()) == [2, 0, 1]


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ([], "labels"),
        ([LabelSpec("a"), LabelSpec(" ")], "labels[1].name"),
        ([LabelSpec("News"), LabelSpec("news")], "labels[1].name"),
        ([LabelSpec("a", examples=("",))], "labels[0].examples[0]"),
        ([LabelSpec(f"l{i}") for i in range(4)], "labels"),
    ],
)
def test_bad_labels_are_rejected_naming_the_field(labels, field):
    with pytest.raises(InvalidInput) as caught:
        validate_labels(labels, max_labels=3, max_chars=100)
    assert caught.value.violations[0].field == field


def test_a_taxonomy_stands_in_for_labels_and_an_unknown_one_is_named():
    assert "invoice" in [label.name for label in resolve_labels([], "document_types", 200, 10)]
    with pytest.raises(InvalidInput) as caught:
        resolve_labels([], "colours", 200, 10)
    assert caught.value.violations[0].field == "taxonomy"
