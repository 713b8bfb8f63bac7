"""MonitorService: host metrics and their history, health, alerts, recommendations and
user activity, each RPC a validation, a domain call and a reply."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc

from aiorch.v1 import monitor_pb2 as pb
from aiorch.v1 import monitor_pb2_grpc
from services.common import advice, caller
from services.common.deadlines import call_timeout
from services.common.probe import Peers
from services.common.release import release
from services.monitor import messages, validation
from services.monitor.activity import ActivityStore
from services.monitor.health import host_components, overall, service_components
from services.monitor.history import matching
from services.monitor.peers import check_all
from services.monitor.recommendations import recommend
from services.monitor.recorder import MetricsRecorder
from services.monitor.settings import MonitorSettings

DEFAULT_WINDOW = 300.0
DEFAULT_ACTIVITY_WINDOW = 7 * 86400.0


class MonitorServicer(monitor_pb2_grpc.MonitorServiceServicer):
    def __init__(
        self,
        recorder: MetricsRecorder,
        activity: ActivityStore,
        settings: MonitorSettings,
        peers: Peers,
        features: tuple[str, ...],
    ):
        self.recorder = recorder
        self.history = recorder.history
        self.alerts = recorder.alerts
        self.activity = activity
        self.settings = settings
        self.peers = peers
        self.features = features
        self.version = release()
        self.started = time.monotonic()
        self.clock = recorder.clock

    async def GetHealth(
        self, request: pb.GetHealthRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetHealthResponse:
        timeout = self.settings.monitor_peer_timeout_seconds
        remaining = call_timeout(context, self.settings.deadline_margin_seconds)
        if remaining is not None:
            timeout = min(timeout, remaining)
        services = await check_all(self.peers, timeout, self.settings.monitor_peer_slow_ms)
        active = self.alerts.active
        components = [*host_components(active), *service_components(services, active)]
        return messages.health(overall(components))

    async def GetCurrentMetrics(
        self, request: pb.GetCurrentMetricsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCurrentMetricsResponse:
        return pb.GetCurrentMetricsResponse(sample=messages.sample(self.recorder.latest))

    async def GetMetricsHistory(
        self, request: pb.GetMetricsHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMetricsHistoryResponse:
        retention = self.settings.monitor_retention_seconds
        window = validation.seconds(request, "window", DEFAULT_WINDOW, retention)
        step = validation.step(request, window, self.recorder.interval)
        names = self.history.select(request.metrics)
        start = self.clock() - window
        series = [messages.series(self.history.series(n, start, step)) for n in names]
        return pb.GetMetricsHistoryResponse(series=series)

    async def GetMetricsSummary(
        self, request: pb.GetMetricsSummaryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMetricsSummaryResponse:
        retention = self.settings.monitor_retention_seconds
        window = validation.seconds(request, "window", DEFAULT_WINDOW, retention)
        names = self.history.select(request.metrics)
        start = self.clock() - window
        summaries = [messages.summary(self.history.summary(n, start)) for n in names]
        return pb.GetMetricsSummaryResponse(summaries=summaries)

    async def Optimize(
        self, request: pb.MonitorServiceOptimizeRequest, context: grpc.aio.ServicerContext
    ) -> pb.MonitorServiceOptimizeResponse:
        caller.require_admin()  # advice about the hosts is for operators
        found = recommend(
            self.history,
            self.alerts,
            self.recorder.sampler.cores,
            self.clock(),
            self.settings.monitor_retention_seconds,
        )
        return pb.MonitorServiceOptimizeResponse(recommendations=[advice.message(r) for r in found])

    async def TrackActivity(
        self, request: pb.TrackActivityRequest, context: grpc.aio.ServicerContext
    ) -> pb.TrackActivityResponse:
        user = caller.user_id()
        activity = validation.activity(request, self.settings.activity_max_metadata_bytes)
        activity_id = await self.activity.track(user, activity, self.clock())
        return pb.TrackActivityResponse(activity_id=activity_id)

    async def TrackActivities(
        self, request: pb.TrackActivitiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.TrackActivitiesResponse:
        user = caller.user_id()
        activities = validation.activities(request, self.settings.activity_max_metadata_bytes)
        activity_ids = await self.activity.track_many(user, activities, self.clock())
        return pb.TrackActivitiesResponse(activity_ids=activity_ids)

    async def GetActivitySummary(
        self, request: pb.GetActivitySummaryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetActivitySummaryResponse:
        retention = self.settings.activity_retention_days * 86400.0
        window = validation.seconds(request, "window", DEFAULT_ACTIVITY_WINDOW, retention)
        # A user reads their own summary; everyone's (no user_id) or another's needs admin.
        if request.user_id != caller.user_id():
            caller.require_admin()
        now = self.clock()
        summary = await self.activity.summary(request.user_id or None, now - window, now)
        return messages.activity_summary(summary)

    async def GetAlerts(
        self, request: pb.GetAlertsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAlertsResponse:
        resolved = self.alerts.resolved if request.include_resolved else ()
        return pb.GetAlertsResponse(
            active=[messages.alert(a) for a in self.alerts.active],
            resolved=[messages.alert(a) for a in resolved],
        )

    async def GetStatus(
        self, request: pb.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetStatusResponse:
        return pb.GetStatusResponse(
            version=self.version,
            uptime=messages.duration(time.monotonic() - self.started),
            sampling_interval=messages.duration(self.recorder.interval),
            features=self.features,
        )

    async def WatchMetrics(
        self, request: pb.WatchMetricsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchMetricsResponse]:
        patterns = list(request.metrics)
        self.history.select(patterns)  # names nothing known: INVALID_ARGUMENT before streaming
        with self.recorder.watch() as samples:
            sample = self.recorder.latest
            while True:
                names = matching(sorted(sample.metrics), patterns) if patterns else None
                yield pb.WatchMetricsResponse(sample=messages.sample(sample, names))
                sample = await samples.get()
