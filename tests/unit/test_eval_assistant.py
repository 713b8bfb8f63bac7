"""The ELITR-Bench eval's scoring (eval/answer_match.py): normalisation, when a passage
counts as containing a reference answer, the lexical baseline's ranking; and which
questions the eval (eval/assistant.py) puts to the model."""

from __future__ import annotations

from eval.answer_match import (
    THRESHOLD,
    contains,
    contains_exactly,
    content,
    lexical_ranking,
    token_recall,
    tokens,
)
from eval.assistant import sample


def test_normalising_drops_case_punctuation_and_brackets_and_stems():
    assert tokens("[PERSON5] Presented Plan-C, (PERSON10).") == (
        "person5",
        "present",
        "plan",
        "c",
        "person10",
    )


def test_function_words_are_not_content_unless_nothing_else_is_left():
    assert content("The deliverable and the platforms") == {"deliver", "platform"}
    assert content("To be") == {"to", "be"}


def test_a_short_answer_needs_every_content_token_in_any_order():
    passage = "(PERSON3) We will do it in Czech first and then in English, okay."
    assert contains("English and Czech", passage)
    assert not contains("English and German", passage)


def test_a_name_is_not_found_inside_a_longer_name():
    assert not contains("[PERSON1]", "(PERSON10) I agree with [PERSON12].")
    assert contains("[PERSON1]", "(PERSON10) I agree with [PERSON1].")


def test_a_long_answer_needs_the_threshold_share_of_its_content_tokens():
    reference = "Include [ORGANIZATION1] data as a separate track in the shared task"
    # content: includ, organization1, data, separ, track, share, task (7 tokens)
    five = "We include the data of [ORGANIZATION1] as a separate track."
    assert token_recall(reference, five) == 5 / 7 >= THRESHOLD
    assert contains(reference, five)
    three = "The data of [ORGANIZATION1], we include it maybe."
    assert token_recall(reference, three) == 3 / 7 < THRESHOLD
    assert not contains(reference, three)
    assert contains(reference, three, threshold=0.4)


def test_exact_containment_is_a_contiguous_run_of_normalised_tokens():
    assert contains_exactly("Plan C", "so we go with plan c, right?")
    assert not contains_exactly("Plan C", "plan, and then c")
    assert not contains_exactly("", "anything")


def test_the_lexical_baseline_ranks_by_shared_question_tokens_ties_in_document_order():
    passages = ["nothing here", "the demo server", "the demo server and videos", "demo"]
    assert lexical_ranking("Who provides the demo server videos?", passages) == [2, 1, 3, 0]


def test_the_model_sample_is_spread_over_the_set_and_fixed():
    assert sample(list(range(141)), 10) == [0, 14, 28, 42, 56, 70, 84, 98, 112, 126]
    assert sample(list(range(5)), 10) == [0, 1, 2, 3, 4]
