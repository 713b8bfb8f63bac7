"""ClassifierService: a text and labels (or a taxonomy) in, scores for every label out."""

from __future__ import annotations

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc
from services.classifier import analysis
from services.classifier.labels import resolve_labels
from services.common.deadlines import call_timeout
from services.common.settings import Settings
from services.common.validation import require_text


class ClassifierServicer(classifier_pb2_grpc.ClassifierServiceServicer):
    def __init__(self, backend, settings: Settings):
        self.backend = backend  # LocalBackend or OpenAIBackend (backends.py)
        self.settings = settings

    async def Classify(self, request, context):
        text = require_text(request.text, "text", self.settings.max_text_chars)
        labels = resolve_labels(
            request.labels, request.taxonomy, self.settings.max_labels, self.settings.max_text_chars
        )
        max_keywords, summary_sentences = analysis.requested_outputs(request)
        timeout = call_timeout(context, self.settings.deadline_margin_seconds)
        result, usage = await self.backend.analyze(
            text,
            labels,
            max_keywords=max_keywords,
            summary_sentences=summary_sentences,
            timeout=timeout,
        )
        scores = result.classification.scores
        return classifier_pb2.ClassifyResponse(
            label=result.classification.label,
            score=result.classification.score,
            scores=[classifier_pb2.LabelScore(label=n, score=s) for n, s in scores],
            keywords=[classifier_pb2.Keyword(text=k.text, score=k.score) for k in result.keywords],
            summary=result.summary,
            model=self.backend.model(result),
            usage=usage.to_proto(),
        )
