from datetime import date

from services.common import llm
from services.meeting_intel import messages
from services.meeting_intel.analysis import analyze
from services.meeting_intel.backends import LocalBackend, OpenAIBackend, open_backend, time_left
from services.meeting_intel.transcript import parse_text
from tests.meeting_samples import MEETING
from tools.settings import SuiteSettings


async def test_the_settings_choose_the_backend_and_each_closes():
    local = open_backend(SuiteSettings(meeting_intel_backend="local"))
    remote = open_backend(
        SuiteSettings(meeting_intel_backend="openai", openai_base_url="http://127.0.0.1:9/v1")
    )
    assert isinstance(local, LocalBackend) and local.model_id == "local/"
    assert isinstance(remote, OpenAIBackend) and remote.model_id.startswith("openai/")
    await local.close()
    await remote.close()


async def test_the_reply_carries_every_finding_with_its_source_and_the_model(embed):
    result = await analyze(parse_text(MEETING), embed, date(2024, 5, 15))
    reply = messages.analyze_response(result, result.summary_text, llm.Usage(7, 0, 0.0), "local")
    assert reply.model == f"local/{embed.encoder.model_id}"
    assert [(i.owner, i.due, i.source.segment) for i in reply.action_items] == [
        ("Cara", "2024-05-17", 5),
        ("Bob", "2024-05-16", 6),
    ]
    assert reply.summary == result.summary_text and reply.usage.input_tokens == 7
    assert len(reply.speakers) == 3 and reply.topics[0].title


def test_each_call_of_an_analysis_gets_what_is_left_of_its_timeout():
    left = time_left(30.0)
    first = left()
    assert first is not None and 29.0 < first <= 30.0
    second = left()
    assert second is not None and second <= first
    assert time_left(None)() is None
    assert time_left(0.0)() == 0.0
