from services.meeting_intel.commitments import TEAM, candidates
from services.meeting_intel.people import People
from services.meeting_intel.sentences import split
from services.meeting_intel.transcript import parse_text


def found(text):
    transcript = parse_text(text)
    return [(c.owner, c.task) for c in candidates(split(transcript), People(transcript))]


def test_each_clause_of_a_sentence_can_commit_someone():
    assert found(
        "Ann: We'll record the demo session and we'll include it in the final presentation.\n"
        "Bob: Okay, I will send the slides and Cara will book the room."
    ) == [
        (TEAM, "Record the demo session"),
        (TEAM, "Include it in the final presentation"),
        ("Bob", "Send the slides"),
        ("Cara", "Book the room"),
    ]


def test_the_team_or_everybody_obliged_is_the_team_and_procedure_is_no_task():
    assert found(
        "Ann: So everybody should fill in the availability table by Monday.\n"
        "Bob: Let's get started. Let's move on to the budget. We will we'll make a decision.\n"
        "Cara: We will have to rename the files in the cluster."
    ) == [
        (TEAM, "Fill in the availability table by Monday"),
        (TEAM, "Make a decision"),
        (TEAM, "Rename the files in the cluster"),
    ]


def test_a_word_cut_where_speech_restarted_is_not_part_of_the_task():
    assert found(
        "Ann: So everybody should f- like fill this table.\n"
        "Bob: So lets simply- yeah, review the methodology lets use the dry run for this."
    ) == [
        (TEAM, "Fill this table"),
        (TEAM, "Review the methodology"),
        (TEAM, "Use the dry run for this"),
    ]


def test_procedure_verbs_with_real_work_as_their_object_are_tasks():
    assert found(
        "Ann: I'll finish the report by Friday.\n"
        "Bob: Cara, can you stop the staging server tonight?\n"
        "Cara: Sure. And I'll start with the literature review tomorrow.\n"
        "Ann: Good, let's finish here. Let's start with the agenda."
    ) == [
        ("Ann", "Finish the report by Friday"),
        ("Cara", "Stop the staging server tonight"),
        ("Cara", "Start with the literature review tomorrow"),
    ]
