"""The router's decision from measured signals, with no model and no network."""

from __future__ import annotations

import pytest

from services.assistant.backends import ExtractiveBackend
from services.assistant.routing import CHEAP, STRONG, Thresholds, coverage, decide
from services.assistant.store import Hit

BUDGET = "The marketing budget for next year is 2 million dollars."
HIKE = "The trail to the summit takes four hours."
LIMITS = Thresholds(min_score=0.5, min_coverage=0.5, max_words=12)


def hit(score: float, text: str) -> Hit:
    return Hit(score, "ann", "doc.txt", "", 0, 0, len(text), text)


def test_coverage_counts_the_question_words_the_passages_hold_by_their_stem():
    assert coverage("What is the marketing budget?", [hit(0.9, BUDGET)]) == (1.0, 2)
    # "approval" matches "approved"; "lisbon" is in no passage.
    assert coverage("Approval of Lisbon?", [hit(0.9, "The plan was approved.")]) == (0.5, 2)
    assert coverage("What is it?", [hit(0.9, BUDGET)]) == (1.0, 0)


def test_a_confident_covered_short_question_stays_on_the_cheap_tier():
    route = decide("What is the marketing budget?", [hit(0.7, BUDGET)], ExtractiveBackend(), LIMITS)
    assert route.tier == CHEAP and not route.escalated
    assert route.best_score == pytest.approx(0.7) and route.coverage == 1.0
    assert "0.70" in route.reason


def test_a_low_best_score_escalates_and_says_so():
    route = decide("What is the marketing budget?", [hit(0.3, BUDGET)], ExtractiveBackend(), LIMITS)
    assert route.tier == STRONG and route.escalated
    assert route.reason == "best passage score 0.30 below 0.50"


def test_words_the_quoted_passages_lack_escalate():
    # The hike passage is retrieved too, but far below the best: it is not quoted.
    passages = [hit(0.8, BUDGET), hit(0.5, HIKE)]
    route = decide(
        "Compare the budget with the summit trail", passages, ExtractiveBackend(), LIMITS
    )
    assert route.tier == STRONG and "cover 25%" in route.reason


def test_a_long_question_escalates():
    question = " ".join(["budget marketing million dollars"] * 4) + " plus quarterly trends"
    route = decide(question, [hit(0.9, BUDGET)], ExtractiveBackend(), Thresholds(max_words=5))
    assert route.tier == STRONG and "content words in the question, over 5" in route.reason


def test_with_nothing_retrieved_the_cheap_tier_says_so_without_a_model():
    route = decide("What is the budget?", [], ExtractiveBackend(), LIMITS)
    assert route.tier == CHEAP and "no passage" in route.reason
