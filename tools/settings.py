"""Every service's settings in one class, for what starts several services in one process
(the integration tests, the evaluations): one value starts any of them, and its fields
are every AIORCH_* setting there is. A service itself reads only its own class."""

from __future__ import annotations

from services.assistant.settings import AssistantSettings
from services.classifier.settings import ClassifierSettings
from services.embeddings.settings import EmbeddingsSettings
from services.meeting_intel.settings import MeetingIntelSettings
from services.monitor.settings import MonitorSettings
from services.orchestrator.settings import OrchestratorSettings


class SuiteSettings(
    OrchestratorSettings,
    ClassifierSettings,
    MeetingIntelSettings,
    EmbeddingsSettings,
    MonitorSettings,
    AssistantSettings,
):
    pass
