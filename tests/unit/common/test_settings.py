import json

import pytest

from services.common.channels import SERVICE_CONFIG
from services.common.settings import Settings


def test_defaults_give_every_service_its_own_port():
    settings = Settings()
    ports = [
        settings.addr_of(s).rsplit(":", 1)[1]
        for s in ("orchestrator", "classifier", "meeting_intel", "embeddings", "monitor")
    ]
    assert ports == ["50051", "50052", "50053", "50054", "50055"]


def test_environment_moves_an_address_and_the_listen_address(monkeypatch):
    monkeypatch.setenv("AIORCH_CLASSIFIER_ADDR", "classifier:7000")
    settings = Settings()
    assert settings.addr_of("classifier") == "classifier:7000"
    assert settings.listen_addr_of("classifier") == "classifier:7000"
    monkeypatch.setenv("AIORCH_LISTEN_ADDR", "0.0.0.0:7000")
    assert Settings().listen_addr_of("classifier") == "0.0.0.0:7000"


def test_retry_policy_retries_only_transient_codes_with_backoff_and_throttling():
    config = json.loads(SERVICE_CONFIG)
    policy = config["methodConfig"][0]["retryPolicy"]
    # RESOURCE_EXHAUSTED waits out the server's pushback (services/common/channels.py).
    assert policy["retryableStatusCodes"] == ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]
    assert policy["maxAttempts"] > 1 and policy["backoffMultiplier"] > 1
    assert config["retryThrottling"]["maxTokens"] > 0
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]


def test_secrets_and_urls_never_show_in_the_settings_repr(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("AIORCH_DATABASE_URL", "postgresql://app:hunter2@db/aiorch")
    monkeypatch.setenv("AIORCH_REDIS_URL", "redis://:hunter3@cache:6379/0")
    shown = repr(Settings()) + str(Settings())
    assert "sk-very-secret" not in shown and "hunter2" not in shown and "hunter3" not in shown
    assert Settings().openai_api_key.get_secret_value() == "sk-very-secret"


def test_a_list_of_replicas_is_reached_but_each_replica_listens_on_its_own(monkeypatch):
    monkeypatch.setenv("AIORCH_CLASSIFIER_ADDR", "127.0.0.1:6001,127.0.0.1:6002")
    monkeypatch.setenv("AIORCH_CLASSIFIER_METRICS_ADDR", "127.0.0.1:7001,127.0.0.1:7002")
    settings = Settings()
    assert settings.addr_of("classifier") == "127.0.0.1:6001,127.0.0.1:6002"
    with pytest.raises(ValueError, match=r"AIORCH_CLASSIFIER_ADDR lists several.*AIORCH_LISTEN"):
        settings.listen_addr_of("classifier")
    with pytest.raises(ValueError, match="AIORCH_METRICS_LISTEN_ADDR"):
        settings.metrics_listen_addr_of("classifier")
    monkeypatch.setenv("AIORCH_LISTEN_ADDR", "127.0.0.1:6002")
    monkeypatch.setenv("AIORCH_METRICS_LISTEN_ADDR", "127.0.0.1:7002")
    settings = Settings()
    assert settings.listen_addr_of("classifier") == "127.0.0.1:6002"
    assert settings.metrics_listen_addr_of("classifier") == "127.0.0.1:7002"
