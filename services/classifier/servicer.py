"""ClassifierService: texts and labels (given, registered or a taxonomy) in, scores for
every label out; each RPC a validation, a domain call and a reply."""

from __future__ import annotations

import grpc

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc
from services.classifier import analysis, messages
from services.classifier.backends import Backend
from services.classifier.label_sets import LabelSets
from services.classifier.labels import resolve_labels
from services.classifier.settings import ClassifierSettings
from services.classifier.zero_shot import LabelSpec
from services.common.deadlines import call_timeout
from services.common.errors import InvalidInput
from services.common.validation import require_text, require_texts


class ClassifierServicer(classifier_pb2_grpc.ClassifierServiceServicer):
    def __init__(
        self, backend: Backend, settings: ClassifierSettings, label_sets: LabelSets | None = None
    ):
        self.backend = backend
        self.settings = settings
        self.label_sets = label_sets or LabelSets()

    async def Classify(
        self, request: classifier_pb2.ClassifyRequest, context: grpc.aio.ServicerContext
    ) -> classifier_pb2.ClassifyResponse:
        text = require_text(request.text, "text", self.settings.max_text_chars)
        labels = await self._labels(request.labels, request.label_set_id, request.taxonomy)
        max_keywords, summary_sentences = analysis.requested_outputs(request)
        timeout = call_timeout(context, self.settings.deadline_margin_seconds)
        result, usage = await self.backend.analyze(
            text,
            labels,
            max_keywords=max_keywords,
            summary_sentences=summary_sentences,
            timeout=timeout,
        )
        return messages.classify_response(result, usage, self.backend.kind)

    async def ClassifyBatch(
        self, request: classifier_pb2.ClassifyBatchRequest, context: grpc.aio.ServicerContext
    ) -> classifier_pb2.ClassifyBatchResponse:
        texts = require_texts(
            request.texts, "texts", self.settings.max_texts, self.settings.max_text_chars
        )
        labels = await self._labels(request.labels, request.label_set_id, request.taxonomy)
        timeout = call_timeout(context, self.settings.deadline_margin_seconds)
        results, usage = await self.backend.classify_many(texts, labels, timeout=timeout)
        return messages.classify_batch_response(results, usage, self.backend.kind)

    async def RegisterLabelSet(
        self, request: classifier_pb2.RegisterLabelSetRequest, context: grpc.aio.ServicerContext
    ) -> classifier_pb2.RegisterLabelSetResponse:
        if not request.labels:
            raise InvalidInput("labels", "give at least one label")
        labels = await self._labels(request.labels, "", "")
        timeout = call_timeout(context, self.settings.deadline_margin_seconds)
        usage = await self.backend.prepare(labels, timeout=timeout)
        label_set_id = await self.label_sets.put(labels)
        return messages.register_response(label_set_id, len(labels), self.backend.model_id, usage)

    async def _labels(self, labels, label_set_id: str, taxonomy: str) -> list[LabelSpec]:
        if not labels and label_set_id:
            return await self.label_sets.get(label_set_id)
        return resolve_labels(
            labels, taxonomy, self.settings.max_labels, self.settings.max_text_chars
        )
