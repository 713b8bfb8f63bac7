"""ClassifierService: a text and labels (or a taxonomy) in, scores for every label out."""

from __future__ import annotations

from functools import partial

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc, common_pb2
from services.classifier import zero_shot
from services.classifier.labels import resolve_labels
from services.common.deadlines import call_timeout
from services.common.errors import Unimplemented
from services.common.settings import Settings
from services.common.validation import require_text
from services.embeddings.client import EmbeddingsClient


class ClassifierServicer(classifier_pb2_grpc.ClassifierServiceServicer):
    def __init__(self, embeddings: EmbeddingsClient, settings: Settings):
        self.embeddings = embeddings
        self.settings = settings

    async def Classify(self, request, context):
        text = require_text(request.text, "text", self.settings.max_text_chars)
        labels = resolve_labels(
            request.labels, request.taxonomy, self.settings.max_labels, self.settings.max_text_chars
        )
        if request.include_keywords or request.include_summary:
            raise Unimplemented("keywords and summary are not built yet")
        timeout = call_timeout(context, self.settings.deadline_margin_seconds)
        embed = partial(self.embeddings.embed, timeout=timeout)
        result = await zero_shot.classify(text, labels, embed)
        return classifier_pb2.ClassifyResponse(
            label=result.label,
            score=result.score,
            scores=[classifier_pb2.LabelScore(label=n, score=s) for n, s in result.scores],
            model=f"zero-shot/{result.model}",
            usage=common_pb2.Usage(input_tokens=result.tokens),
        )
