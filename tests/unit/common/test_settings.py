import json

import pytest
from pydantic import SecretStr, ValidationError

from services.common.channels import SERVICE_CONFIG
from services.common.settings import Settings
from tools.settings import SuiteSettings


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
    # RESOURCE_EXHAUSTED waits out the server's pushback; CANCELLED is a stopping server's
    # answer to calls no handler took yet (services/common/channels.py).
    assert policy["retryableStatusCodes"] == ["UNAVAILABLE", "RESOURCE_EXHAUSTED", "CANCELLED"]
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


SECRETS = {
    "AIORCH_DATABASE_URL": "postgresql://app:hunter2@db/aiorch",
    "AIORCH_REDIS_URL": "redis://:hunter3@cache:6379/0",
    "AIORCH_ACTIVITY_KEY": "activity-key-hunter4",
    "AIORCH_LOG_KEY": "log-key-hunter5",
    "OPENAI_API_KEY": "sk-hunter6",
}


def shows_no_secret(text: str) -> bool:
    return not any(f"hunter{n}" in text for n in range(2, 7))


def test_secrets_never_show_in_a_dump_repr_or_str(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = SuiteSettings()  # the activity key is the monitor's
    assert shows_no_secret(str(settings.model_dump()))
    assert shows_no_secret(settings.model_dump_json())
    assert shows_no_secret(repr(settings) + str(settings))
    assert shows_no_secret(f"{settings.database_url} {settings.redis_url!r}")
    # Read where a connection is opened or an HMAC keyed, and only there.
    assert settings.database_url.get_secret_value() == SECRETS["AIORCH_DATABASE_URL"]
    assert settings.redis_url.get_secret_value() == SECRETS["AIORCH_REDIS_URL"]
    assert settings.activity_key.get_secret_value() == SECRETS["AIORCH_ACTIVITY_KEY"]
    assert settings.log_key.get_secret_value() == SECRETS["AIORCH_LOG_KEY"]


def test_a_validation_error_of_another_setting_shows_no_secret(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AIORCH_MAX_TEXTS", "many")
    with pytest.raises(ValidationError) as from_env:
        Settings()
    with pytest.raises(ValidationError) as from_arguments:
        Settings(database_url="postgresql://app:hunter2@db/aiorch", max_labels=-1)
    for caught in (from_env, from_arguments):
        assert shows_no_secret(str(caught.value) + repr(caught.value.errors()))
    assert "max_texts" in str(from_env.value) and "max_labels" in str(from_arguments.value)


def test_a_copy_given_a_plain_secret_keeps_it_secret():
    copy = Settings().model_copy(update={"database_url": "postgresql://app:hunter2@db/x"})
    assert isinstance(copy.database_url, SecretStr)
    assert shows_no_secret(str(copy.model_dump()) + repr(copy))
    assert copy.database_url.get_secret_value() == "postgresql://app:hunter2@db/x"


def test_each_setting_has_one_home():
    """A service's own settings are its alone: one defined in two services (or again in
    the runtime's) would be two knobs under one variable name."""
    from services.assistant.settings import AssistantSettings
    from services.classifier.settings import ClassifierSettings
    from services.embeddings.settings import EmbeddingsSettings
    from services.meeting_intel.settings import MeetingIntelSettings
    from services.monitor.settings import MonitorSettings
    from services.orchestrator.settings import OrchestratorSettings

    runtime = set(Settings.model_fields)
    owners: dict[str, str] = {}
    for own in (
        AssistantSettings,
        ClassifierSettings,
        EmbeddingsSettings,
        MeetingIntelSettings,
        MonitorSettings,
        OrchestratorSettings,
    ):
        assert own.__bases__ == (Settings,)
        assert not set(own.__annotations__) & runtime, f"{own.__name__} redefines a runtime's"
        for name in own.__annotations__:
            assert name not in owners, f"{name}: in {owners.get(name)} and {own.__name__}"
            owners[name] = own.__name__
    assert set(SuiteSettings.model_fields) == runtime | set(owners)
    assert "alert_cpu_warning" not in runtime and "queue_size_high" not in runtime
