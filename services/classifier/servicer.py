"""ClassifierService: a text and labels (or a taxonomy) in, scores for every label out."""

from __future__ import annotations

from functools import partial

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc, common_pb2
from services.classifier import analysis
from services.classifier.labels import resolve_labels
from services.classifier.vectors import VectorCache
from services.common.deadlines import call_timeout
from services.common.settings import Settings
from services.common.validation import require_text
from services.embeddings.client import EmbeddingsClient


class ClassifierServicer(classifier_pb2_grpc.ClassifierServiceServicer):
    def __init__(self, embeddings: EmbeddingsClient, settings: Settings):
        self.embeddings = embeddings
        self.settings = settings
        self.cache = VectorCache(settings.classifier_cache_size)

    async def Classify(self, request, context):
        text = require_text(request.text, "text", self.settings.max_text_chars)
        labels = resolve_labels(
            request.labels, request.taxonomy, self.settings.max_labels, self.settings.max_text_chars
        )
        max_keywords, summary_sentences = analysis.requested_outputs(request)
        timeout = call_timeout(context, self.settings.deadline_margin_seconds)
        result = await analysis.analyze(
            text,
            labels,
            partial(self.embeddings.embed, timeout=timeout),
            self.cache,
            max_keywords=max_keywords,
            summary_sentences=summary_sentences,
            batch_size=self.settings.max_texts,
        )
        scores = result.classification.scores
        return classifier_pb2.ClassifyResponse(
            label=result.classification.label,
            score=result.classification.score,
            scores=[classifier_pb2.LabelScore(label=n, score=s) for n, s in scores],
            keywords=[classifier_pb2.Keyword(text=k.text, score=k.score) for k in result.keywords],
            summary=result.summary,
            model=f"local/{result.model}",
            usage=common_pb2.Usage(input_tokens=result.tokens, cost_usd=0.0),
        )
