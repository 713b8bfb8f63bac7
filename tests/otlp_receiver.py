"""A real OTLP/gRPC trace receiver for tests: the collector's TraceService from
opentelemetry-proto, served by grpc on a free port, keeping every span it is sent."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent import futures
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass(frozen=True)
class ReceivedSpan:
    service: str  # the resource's service.name
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str  # empty for a root span
    attributes: dict
    links: tuple[tuple[str, str], ...] = ()  # (trace id, span id) of each linked span


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, keep: bool = True):
        self.keep = keep
        self.spans: list[ReceivedSpan] = []
        self.count = 0
        self._lock = threading.Lock()

    def Export(self, request, context):
        if not self.keep:  # a benchmark's collector: as little work as a real one's share
            self.count += sum(
                len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans
            )
            return trace_service_pb2.ExportTraceServiceResponse()
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        ReceivedSpan(
                            service=resource.get("service.name", ""),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            links=tuple((x.trace_id.hex(), x.span_id.hex()) for x in span.links),
                        )
                    )
        with self._lock:
            self.spans.extend(found)
            self.count += len(found)
        return trace_service_pb2.ExportTraceServiceResponse()

    def wait_for(self, predicate, timeout: float = 15.0) -> list[ReceivedSpan]:
        """The spans received once `predicate(spans)` holds; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"spans never matched; received {len(spans)}: {spans}")
            time.sleep(0.1)


def _value(value):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@contextlib.contextmanager
def otlp_receiver(keep: bool = True):
    """Yields (endpoint URL, receiver); `keep=False` only counts the spans."""
    receiver = Receiver(keep)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", receiver
    finally:
        server.stop(0)
