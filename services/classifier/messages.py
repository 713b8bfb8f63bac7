"""Replies of ClassifierService, built from what the backend computed."""

from __future__ import annotations

from aiorch.v1 import classifier_pb2
from services.classifier.analysis import Analysis
from services.classifier.zero_shot import Classification
from services.common import llm


def label_scores(result: Classification) -> list[classifier_pb2.LabelScore]:
    return [classifier_pb2.LabelScore(label=name, score=score) for name, score in result.scores]


def classify_response(
    result: Analysis, usage: llm.Usage, kind: str
) -> classifier_pb2.ClassifyResponse:
    return classifier_pb2.ClassifyResponse(
        label=result.classification.label,
        score=result.classification.score,
        scores=label_scores(result.classification),
        keywords=[classifier_pb2.Keyword(text=k.text, score=k.score) for k in result.keywords],
        summary=result.summary,
        model=f"{kind}/{result.model}",
        usage=usage.to_proto(),
    )


def classify_batch_response(
    results: list[Classification], usage: llm.Usage, kind: str
) -> classifier_pb2.ClassifyBatchResponse:
    return classifier_pb2.ClassifyBatchResponse(
        results=[
            classifier_pb2.Classification(label=r.label, score=r.score, scores=label_scores(r))
            for r in results
        ],
        model=f"{kind}/{results[0].model}" if results else "",
        usage=usage.to_proto(),
    )


def register_response(
    label_set_id: str, labels: int, model: str, usage: llm.Usage
) -> classifier_pb2.RegisterLabelSetResponse:
    return classifier_pb2.RegisterLabelSetResponse(
        label_set_id=label_set_id, labels=labels, model=model, usage=usage.to_proto()
    )
