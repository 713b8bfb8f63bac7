import asyncio
import threading

import pytest

from services.classifier.labels import resolve_labels
from services.classifier.zero_shot import (
    HeadCache,
    LabelSpec,
    classify,
    label_texts,
    softmax,
    text_windows,
)
from services.common.errors import InvalidInput
from services.embeddings.client import VectorCache

COOKING = (
    "Whisk the eggs with the sugar until pale, then fold in the flour and the melted butter. "
    "Bake the sponge for twenty minutes and let it cool before you spread the cream. "
)
FOOTBALL = (
    "The striker scored twice in the second half and the keeper saved a late penalty. "
    "The coach praised the defence after the cup final win in front of a full stadium. "
)


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


async def test_a_long_document_is_judged_by_all_its_windows_not_its_first_tokens(embed):
    # The cooking part alone fills the encoder's 256 tokens; most of the text is football.
    text = COOKING * 6 + FOOTBALL * 20
    assert len(text_windows(text)) > 3
    result = await classify(text, [LabelSpec("cooking"), LabelSpec("football")], embed)
    assert result.label == "football"


async def test_label_vectors_are_cached_so_a_second_call_embeds_only_the_text(embed):
    cache = VectorCache()
    labels = [LabelSpec("sport", examples=("A goal in extra time.",)), LabelSpec("finance")]
    first = await classify(FOOTBALL, labels, embed, cache)
    second = await classify(FOOTBALL, labels, embed, cache)
    assert embed.calls[1] == text_windows(FOOTBALL)
    assert dict(second.scores) == pytest.approx(dict(first.scores))
    assert second.tokens < first.tokens


def test_long_examples_are_embedded_window_by_window():
    labels = [LabelSpec("football", examples=(FOOTBALL * 20,))]
    texts = label_texts(labels)
    assert texts[0] == "This text is about football."
    assert len(texts) > 3


def test_softmax_is_a_distribution_that_keeps_the_order():
    probabilities = softmax(__import__("numpy").array([0.2, 0.5, 0.1]))
    assert probabilities.sum() == pytest.approx(1.0)
    assert list(probabilities.argsort()) == [2, 0, 1]


def test_a_taxonomy_stands_in_for_labels_and_an_unknown_one_is_named():
    assert "invoice" in [label.name for label in resolve_labels([], "document_types", 200, 10)]
    with pytest.raises(InvalidInput) as caught:
        resolve_labels([], "colours", 200, 10)
    assert caught.value.violations[0].field == "taxonomy"


async def test_a_description_says_what_a_vague_name_covers(embed):
    text = "The striker scored twice in the cup final."
    vague = [LabelSpec("alpha"), LabelSpec("beta")]
    described = [LabelSpec("alpha", "Cooking and recipes."), LabelSpec("beta", "Football.")]
    before = dict((await classify(text, vague, embed)).scores)["beta"]
    after = await classify(text, described, embed)
    assert after.label == "beta" and dict(after.scores)["beta"] > before


async def test_concurrent_few_shot_requests_fit_one_head(embed, monkeypatch):
    from services.classifier import head

    fits = []
    real_fit = head.fit
    monkeypatch.setattr(head, "fit", lambda *a: fits.append(1) or real_fit(*a))
    labels = [
        LabelSpec("sport", examples=("A late goal.", "The team won the cup.")),
        LabelSpec("cooking", examples=("Bake the cake.", "Simmer the sauce.")),
    ]
    cache, heads = VectorCache(), HeadCache()
    results = await asyncio.gather(
        *(classify(FOOTBALL, labels, embed, cache, heads) for _ in range(6))
    )
    assert len(fits) == 1
    assert {r.label for r in results} == {"sport"}


async def test_a_caller_that_goes_away_leaves_the_fit_to_those_still_waiting():
    heads, fits, release = HeadCache(), [], threading.Event()

    def fit():
        fits.append(1)
        release.wait(5)
        return "the head"

    first = asyncio.ensure_future(heads.get(("set", "model"), fit))
    second = asyncio.ensure_future(heads.get(("set", "model"), fit))
    await asyncio.sleep(0.05)
    first.cancel()  # its client's deadline passed
    await asyncio.sleep(0.05)
    release.set()
    assert await second == "the head"  # not CancelledError: nobody cancelled this one
    assert first.cancelled()
    assert await heads.get(("set", "model"), fit) == "the head"  # kept for the next
    assert len(fits) == 1


async def test_with_many_labels_the_same_lead_in_cosine_is_trusted_less():
    # A near miss is likelier among 77 intents than among 4 topics: the same lead of the
    # best label's cosine over the runner-up's gives it smaller odds.
    import numpy as np

    from services.classifier.zero_shot import name_prompts, probabilities
    from services.embeddings.client import Vectors

    async def odds(count: int) -> float:
        labels = [LabelSpec(f"label {i}") for i in range(count)]
        axes = np.eye(count + 1)
        by_text = {p: axes[i] for i, label in enumerate(labels) for p in name_prompts(label)}
        document = 0.3 * axes[0] + 0.2 * axes[1] + axes[count]
        document /= np.linalg.norm(document)
        row = (await probabilities(labels, document[None], Vectors(by_text, 0, "m")))[0]
        return float(row[0] / row[1])

    assert await odds(77) < await odds(5) < await odds(4)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("card_arrival", "card arrival"),
        ("activateMyCard", "activate My Card"),
        ("ActivateMyCard", "Activate My Card"),
        ("top-up_failed", "top up failed"),
        ("follow-up call", "follow-up call"),  # words already
        ("Sports", "Sports"),
        ("  business  ", "business"),
        ("_", "_"),  # nothing but joins: the name itself
    ],
)
def test_label_names_written_as_identifiers_are_prompted_as_words(name, words):
    from services.classifier.zero_shot import LabelSpec, name_prompts, wording

    assert wording(name) == words
    assert name_prompts(LabelSpec(name))[0] == f"This text is about {words}."
