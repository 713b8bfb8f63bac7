import pytest

from aiorch.v1 import classifier_pb2
from services.classifier.analysis import analyze, requested_outputs
from services.classifier.sentences import split_sentences
from services.classifier.zero_shot import LabelSpec
from services.common.errors import InvalidInput
from services.embeddings.client import VectorCache

MEMO = (
    "Hi team, thanks for the productive meeting yesterday. As agreed, Anna will finish the "
    "budget draft by Friday and send it to finance for review. The launch date moves to "
    "March 3 because the supplier needs two more weeks for the packaging. Please update "
    "the project plan and flag any risks to me before our next call. "
    "Best regards, Tom"
)
LABELS = [LabelSpec("project update"), LabelSpec("sports report"), LabelSpec("recipe")]


async def test_keywords_and_summary_come_from_the_same_single_embed_call(embed):
    result = await analyze(MEMO, LABELS, embed, VectorCache(), max_keywords=5, summary_sentences=2)
    assert len(embed.calls) == 1
    assert result.classification.label == "project update"
    assert 1 <= len(result.keywords) <= 5
    picked = [s for s in split_sentences(MEMO) if s in result.summary]
    assert len(picked) == 2 and result.summary == " ".join(picked)
    assert result.tokens > 0 and result.model == embed.model_id


async def test_scores_do_not_depend_on_what_else_was_asked(embed):
    plain = await analyze(MEMO, LABELS, embed)
    full = await analyze(MEMO, LABELS, embed, max_keywords=10, summary_sentences=3)
    assert dict(plain.classification.scores) == pytest.approx(dict(full.classification.scores))
    assert plain.keywords == [] and plain.summary == ""


def test_defaults_apply_when_asked_without_a_count_and_nothing_when_not_asked():
    request = classifier_pb2.ClassifyRequest(include_keywords=True, include_summary=True)
    assert requested_outputs(request) == (10, 3)
    request = classifier_pb2.ClassifyRequest(max_keywords=7, summary_sentences=2)
    assert requested_outputs(request) == (0, 0)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (classifier_pb2.ClassifyRequest(include_keywords=True, max_keywords=-1), "max_keywords"),
        (classifier_pb2.ClassifyRequest(include_keywords=True, max_keywords=51), "max_keywords"),
        (
            classifier_pb2.ClassifyRequest(include_summary=True, summary_sentences=-2),
            "summary_sentences",
        ),
    ],
)
def test_bad_counts_are_rejected_naming_the_field(request_, field):
    with pytest.raises(InvalidInput) as caught:
        requested_outputs(request_)
    assert caught.value.violations[0].field == field
