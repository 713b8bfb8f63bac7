"""Agents as data: the declarations, a request's names checked, answers merged."""

from __future__ import annotations

import pytest

from services.assistant.agents import AGENTS, CHEAP, ROUTED, Agent, named
from services.assistant.backends import Reply
from services.assistant.chat import merge
from services.assistant.store import Hit
from services.common.errors import InvalidInput


def hit(source_id: str, chunk: int = 0) -> Hit:
    return Hit(0.5, "ann", source_id, "", chunk, 0, 4, "text")


def test_every_declared_agent_is_valid_and_the_set_spans_the_tiers():
    assert {a.tier for a in AGENTS.values()} == {"cheap", "strong", "routed"}
    assert any(not a.retrieves for a in AGENTS.values())
    assert all(a.name == name and a.description for name, a in AGENTS.items())


@pytest.mark.parametrize("tier", [CHEAP, ROUTED])
def test_a_tier_that_reads_passages_needs_an_agent_that_retrieves(tier):
    with pytest.raises(ValueError, match="needs retrieved passages"):
        Agent("x", "d", tier, retrieves=False)
    with pytest.raises(ValueError, match="unknown tier"):
        Agent("x", "d", "premium", retrieves=True)


def test_a_request_names_known_agents_each_once_and_not_too_many():
    assert [a.name for a in named(["analyst", "quick"])] == ["analyst", "quick"]
    assert named([]) == []
    for names, field in (
        (["quick", "nobody"], "agents[1]"),
        (["quick", "quick"], "agents[1]"),
        (["quick"] * 5, "agents"),
    ):
        with pytest.raises(InvalidInput) as refused:
            named(names)
        assert refused.value.violations[0].field == field


def test_merged_answers_cite_each_passage_once_by_one_numbering():
    first = Reply(cited=[hit("a"), hit("b")])
    second = Reply(cited=[hit("b"), hit("c")])
    texts, cited = merge([("A [1], B [2].", first), ("B [1], C [2], none [7].", second)])
    assert [h.source_id for h in cited] == ["a", "b", "c"]
    assert texts == ["A [1], B [2].", "B [2], C [3], none [7]."]
