"""The generated message and enum types, under short names."""

from aiorch_client._proto.aiorch.v1 import assistant_pb2 as assistant
from aiorch_client._proto.aiorch.v1 import classifier_pb2 as classifier
from aiorch_client._proto.aiorch.v1 import common_pb2 as common
from aiorch_client._proto.aiorch.v1 import embeddings_pb2 as embeddings
from aiorch_client._proto.aiorch.v1 import meeting_intel_pb2 as meeting_intel
from aiorch_client._proto.aiorch.v1 import monitor_pb2 as monitor
from aiorch_client._proto.aiorch.v1 import orchestrator_pb2 as orchestrator

__all__ = [
    "assistant",
    "classifier",
    "common",
    "embeddings",
    "meeting_intel",
    "monitor",
    "orchestrator",
]
