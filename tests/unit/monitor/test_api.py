"""API figures from Prometheus expositions: parsing, quantiles, rates over a window."""

from __future__ import annotations

import pytest

from services.monitor.api import ApiSampler, Reading, figures, parse, quantile

EXPOSITION = """\
# HELP grpc_server_handled_total RPCs completed on the server, by status code.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_code="OK",grpc_method="Classify",grpc_service="aiorch.v1.ClassifierService",grpc_type="unary"} 90.0
grpc_server_handled_total{grpc_code="INVALID_ARGUMENT",grpc_method="Classify",grpc_service="aiorch.v1.ClassifierService",grpc_type="unary"} 5.0
grpc_server_handled_total{grpc_code="UNAVAILABLE",grpc_method="Classify",grpc_service="aiorch.v1.ClassifierService",grpc_type="unary"} 5.0
grpc_server_handled_total{grpc_code="OK",grpc_method="Analyze",grpc_service="aiorch.v1.MeetingIntelService",grpc_type="unary"} 3.0
grpc_server_handling_seconds_bucket{grpc_code="OK",grpc_method="Classify",grpc_service="aiorch.v1.ClassifierService",grpc_type="unary",le="0.1"} 50.0
grpc_server_handling_seconds_bucket{grpc_code="OK",grpc_method="Classify",grpc_service="aiorch.v1.ClassifierService",grpc_type="unary",le="1.0"} 90.0
grpc_server_handling_seconds_bucket{grpc_code="OK",grpc_method="Classify",grpc_service="aiorch.v1.ClassifierService",grpc_type="unary",le="+Inf"} 90.0
grpc_server_handling_seconds_bucket{grpc_code="OK",grpc_method="Watch",grpc_service="aiorch.v1.ClassifierService",grpc_type="server_stream",le="+Inf"} 4.0
grpc_client_handled_total{grpc_code="OK",grpc_method="Embed",grpc_service="aiorch.v1.EmbeddingsService",grpc_type="unary"} 7.0
"""  # noqa: E501


def test_an_exposition_gives_each_service_its_requests_server_errors_and_buckets():
    found = parse(EXPOSITION)
    assert set(found) == {"classifier", "meeting_intel"}  # client-side lines are not theirs
    assert found["classifier"].handled == 100
    assert found["classifier"].errors == 5  # INVALID_ARGUMENT is the caller's error
    # Only unary calls are timed: a stream lasts as long as its watcher looks.
    assert found["classifier"].buckets == {0.1: 50, 1.0: 90, float("inf"): 90}


def test_the_quantile_interpolates_within_its_bucket():
    buckets = {0.1: 50, 1.0: 100, float("inf"): 100}
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.95, buckets) == pytest.approx(0.1 + 0.9 * 45 / 50)
    assert quantile(0.95, {0.1: 0, float("inf"): 0}) == 0.0
    # Past the last finite bound, the bound itself, as Prometheus answers.
    assert quantile(0.95, {0.1: 10, float("inf"): 100}) == pytest.approx(0.1)


def test_figures_are_the_increase_between_readings_and_survive_a_restart():
    old = Reading(100, 10, {0.1: 100, float("inf"): 100})
    new = Reading(150, 10, {0.1: 150, float("inf"): 150})
    rate, errors, p95 = figures(10.0, new, old)
    assert (rate, errors) == (5.0, 0.0) and p95 == pytest.approx(95.0)
    restarted = Reading(20, 20, {0.1: 20, float("inf"): 20})
    assert figures(10.0, restarted, old)[:2] == (2.0, 100.0)


def sampler(texts: dict[str, str], window=10.0, every=1.0) -> ApiSampler:
    def read(addr, timeout):
        if addr not in texts:
            raise ConnectionRefusedError(addr)
        return texts[addr]

    return ApiSampler(
        {"classifier": "127.0.0.1:1", "embeddings": "127.0.0.2:2"}, window, every, 0.1, read
    )


def test_the_sampler_reports_figures_over_the_window_and_which_services_answer():
    texts = {"127.0.0.1:1": EXPOSITION.replace("90.0", "0.0").replace(" 5.0", " 0.0")}
    api = sampler(texts)
    first = api.sample(0.0)
    assert first == {"api.classifier.up": (1.0, "bool"), "api.embeddings.up": (0.0, "bool")}
    texts["127.0.0.1:1"] = EXPOSITION
    figures_now = api.sample(10.0)
    assert figures_now["api.classifier.requests"] == (10.0, "requests/s")
    assert figures_now["api.classifier.errors.percent"] == (5.0, "percent")
    assert api.sample(10.5) is figures_now  # read at most every second
    quiet = api.sample(30.0)  # nothing new: the window holds no request
    assert quiet["api.classifier.requests"][0] == 0.0
    assert quiet["api.classifier.latency.p95"][0] == 0.0


def test_replicas_listed_by_address_are_summed_and_one_answering_is_up():
    texts = {"127.0.0.1:1": EXPOSITION, "127.0.0.1:3": EXPOSITION}

    def read(addr, timeout):
        if addr not in texts:
            raise ConnectionRefusedError(addr)
        return texts[addr]

    listed = {"classifier": "127.0.0.1:1,127.0.0.1:3", "embeddings": "127.0.0.1:4,127.0.0.1:5"}
    api = ApiSampler(listed, 10.0, 1.0, 0.1, read)
    api.sample(0.0)
    texts["127.0.0.1:3"] = EXPOSITION.replace("90.0", "190.0")  # 100 more on one replica
    figures_now = api.sample(10.0)
    assert figures_now["api.classifier.requests"] == (10.0, "requests/s")
    assert figures_now["api.classifier.up"] == (1.0, "bool")
    assert figures_now["api.embeddings.up"] == (0.0, "bool")
