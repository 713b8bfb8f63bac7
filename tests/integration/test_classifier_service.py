"""ClassifierService through gRPC, over real in-process embeddings and classifier servers."""

from __future__ import annotations

import logging

import grpc
import pytest
from grpc_status import rpc_status

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc
from services.classifier.sentences import split_sentences
from services.common.errors import field_violations

REPORT = (
    "Weekly status report for the mobile app release. Progress: this week the team finished "
    "the login screens and fixed nine of the twelve open bugs. Risks: the push notification "
    "service was down for two days and may delay the end-to-end tests. Blockers: we are "
    "still waiting for the security review. Next steps: next week we will fix the remaining "
    "bugs, rerun the regression tests and start the beta with fifty users. The release date "
    "of 14 March still holds if the security review is done by Friday."
)


@pytest.fixture
async def classifier(suite):
    async with suite.channel("classifier") as channel:
        yield classifier_pb2_grpc.ClassifierServiceStub(channel)


def labels(*names) -> list[classifier_pb2.Label]:
    return [classifier_pb2.Label(name=name) for name in names]


async def test_a_taxonomy_with_keywords_and_summary_gives_every_part_and_usage(classifier):
    request = classifier_pb2.ClassifyRequest(
        text=REPORT,
        taxonomy="document_types",
        include_keywords=True,
        max_keywords=5,
        include_summary=True,
        summary_sentences=2,
    )
    reply = await classifier.Classify(request, timeout=20)
    assert reply.label == reply.scores[0].label == "status_report"
    assert len(reply.scores) == 9
    assert sum(s.score for s in reply.scores) == pytest.approx(1.0)
    assert [s.score for s in reply.scores] == sorted((s.score for s in reply.scores), reverse=True)
    assert 1 <= len(reply.keywords) <= 5
    assert all(k.text in REPORT and 0 <= k.score <= 1 for k in reply.keywords)
    assert reply.summary and reply.summary.count(". ") <= 2
    assert reply.model.startswith("local/")
    assert reply.usage.input_tokens > 0 and reply.usage.cost_usd == 0


async def test_keywords_and_summary_are_empty_unless_asked(classifier):
    request = classifier_pb2.ClassifyRequest(text=REPORT, labels=labels("software", "sport"))
    reply = await classifier.Classify(request, timeout=20)
    assert reply.label == "software"
    assert not reply.keywords and not reply.summary


async def test_label_vectors_are_reused_so_a_repeat_reads_fewer_tokens(classifier):
    request = classifier_pb2.ClassifyRequest(
        text=REPORT,
        labels=[
            classifier_pb2.Label(name="testing", examples=["The regression suite failed twice."]),
            classifier_pb2.Label(name="gardening", description="Plants, soil and watering."),
        ],
    )
    first = await classifier.Classify(request, timeout=20)
    second = await classifier.Classify(request, timeout=20)
    assert second.usage.input_tokens < first.usage.input_tokens
    assert [(s.label, round(s.score, 5)) for s in second.scores] == [
        (s.label, round(s.score, 5)) for s in first.scores
    ]


async def test_a_long_document_is_classified_whole(classifier):
    # About 3,600 words in 280 distinct sentences: many windows, and with the sentences
    # more texts than one Embed call takes.
    text = " ".join(REPORT.replace(". ", f" (part {i}). ") for i in range(40))
    request = classifier_pb2.ClassifyRequest(
        text=text, labels=labels("software", "sport"), include_summary=True
    )
    reply = await classifier.Classify(request, timeout=60)
    assert reply.label == "software"
    assert reply.usage.input_tokens > 5000
    summary = split_sentences(reply.summary)
    assert len(summary) == len(set(summary)) == 3


def _bad(**changes) -> classifier_pb2.ClassifyRequest:
    request = classifier_pb2.ClassifyRequest(text=REPORT, labels=labels("software", "sport"))
    for field, value in changes.items():
        if field == "labels":
            del request.labels[:]
            request.labels.extend(value)
        else:
            setattr(request, field, value)
    return request


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (_bad(text=""), "text"),
        (_bad(text="x" * 100_001), "text"),
        (_bad(labels=[]), "labels"),
        (_bad(labels=labels(*(f"label {i}" for i in range(201)))), "labels"),
        (_bad(labels=labels("software", "Software")), "labels[1].name"),
        (_bad(labels=labels("software", " ")), "labels[1].name"),
        (_bad(labels=[classifier_pb2.Label(name="a", examples=[""])]), "labels[0].examples[0]"),
        (_bad(labels=[], taxonomy="colours"), "taxonomy"),
        # Longer than the embeddings service takes once in a prompt: never INTERNAL.
        (_bad(labels=labels("software", "x" * 100_000)), "labels[1].name"),
        (
            _bad(labels=[classifier_pb2.Label(name="a", description="d" * 100_001)]),
            "labels[0].description",
        ),
        (_bad(labels=[], label_set_id="not an id"), "label_set_id"),
        (_bad(include_keywords=True, max_keywords=-1), "max_keywords"),
        (_bad(include_summary=True, summary_sentences=51), "summary_sentences"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(classifier, request_, field):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await classifier.Classify(request_, timeout=20)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(rpc_status.from_call(caught.value))


async def test_a_batch_gives_one_result_per_text_in_order_like_single_calls(classifier):
    texts = [
        "The striker scored twice in the cup final.",
        REPORT,
        "Whisk the eggs with the sugar, then bake the sponge.",
    ]
    names = labels("sport", "software", "cooking")
    reply = await classifier.ClassifyBatch(
        classifier_pb2.ClassifyBatchRequest(texts=texts, labels=names), timeout=20
    )
    assert [r.label for r in reply.results] == ["sport", "software", "cooking"]
    assert reply.model.startswith("local/") and reply.usage.input_tokens > 0
    single = await classifier.Classify(
        classifier_pb2.ClassifyRequest(text=texts[1], labels=names), timeout=20
    )
    assert [(s.label, round(s.score, 4)) for s in reply.results[1].scores] == [
        (s.label, round(s.score, 4)) for s in single.scores
    ]


async def test_a_registered_label_set_is_classified_by_id_with_the_same_scores(classifier):
    names = [
        classifier_pb2.Label(name="sport", examples=["A late goal won the match."]),
        classifier_pb2.Label(name="cooking", examples=["Simmer the sauce for an hour."]),
    ]
    registered = await classifier.RegisterLabelSet(
        classifier_pb2.RegisterLabelSetRequest(labels=names), timeout=20
    )
    again = await classifier.RegisterLabelSet(
        classifier_pb2.RegisterLabelSetRequest(labels=names), timeout=20
    )
    assert registered.label_set_id == again.label_set_id and registered.labels == 2
    # The second registration found every vector computed: it read nothing.
    assert registered.usage.input_tokens > 0 and again.usage.input_tokens == 0
    text = "The keeper saved a penalty in extra time."
    by_id = await classifier.Classify(
        classifier_pb2.ClassifyRequest(text=text, label_set_id=registered.label_set_id),
        timeout=20,
    )
    inline = await classifier.Classify(
        classifier_pb2.ClassifyRequest(text=text, labels=names), timeout=20
    )
    assert by_id.label == "sport"
    assert [(s.label, round(s.score, 5)) for s in by_id.scores] == [
        (s.label, round(s.score, 5)) for s in inline.scores
    ]
    batch = await classifier.ClassifyBatch(
        classifier_pb2.ClassifyBatchRequest(texts=[text], label_set_id=registered.label_set_id),
        timeout=20,
    )
    assert batch.results[0].label == "sport"


async def test_registering_a_label_set_leaves_an_audit_line(classifier, caplog):
    caplog.set_level(logging.INFO, logger="aiorch.audit")
    names = [classifier_pb2.Label(name="sport"), classifier_pb2.Label(name="cooking")]
    reply = await classifier.RegisterLabelSet(
        classifier_pb2.RegisterLabelSetRequest(labels=names), timeout=20
    )
    [line] = [r for r in caplog.records if r.name == "aiorch.audit"]
    assert line.action == "/aiorch.v1.ClassifierService/RegisterLabelSet"
    assert (line.target, line.code) == (reply.label_set_id, "OK")


async def test_an_unknown_label_set_is_not_found(classifier):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await classifier.ClassifyBatch(
            classifier_pb2.ClassifyBatchRequest(texts=["a text"], label_set_id="ls-" + "0" * 32),
            timeout=20,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "register" in caught.value.details()


async def test_a_batch_with_too_many_texts_names_the_field(classifier):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await classifier.ClassifyBatch(
            classifier_pb2.ClassifyBatchRequest(texts=["a"] * 257, labels=labels("x", "y")),
            timeout=20,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "texts" in field_violations(rpc_status.from_call(caught.value))
