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


def test_a_guess_stays_a_guess_until_a_but_and_a_hedge_after_the_verb_counts_too():
    assert found(
        "Ann: So that's probably the final result, that we will ask for a project extension.\n"
        "Bob: Maybe from tomorrow on I will start writing the user manual.\n"
        "Cara: Let's finish the budget review probably.\n"
        "Ann: We are going to fix the parser in order to run likely faster.\n"
        "Bob: Maybe not today, but I will send the invoice tomorrow."
    ) == [("Bob", "Send the invoice tomorrow")]


def test_a_clause_that_describes_a_thing_commits_nobody():
    assert found(
        "Ann: Plan B is something that Bob will set up on the staging server.\n"
        "Bob: These are the things that we need to prepare for the audit.\n"
        "Cara: I agree that we should prepare the audit checklist."
    ) == [(TEAM, "Prepare the audit checklist")]


def test_speech_broken_off_after_a_preposition_or_followed_by_reassurance_ends_the_task():
    assert found(
        "Ann: I will talk to, with the people in Prague, they would like this paper.\n"
        "Bob: In any case I will mail you the contract today, don't worry.\n"
        "Cara: I'll log in, download the server logs and check them."
    ) == [
        ("Bob", "Mail you the contract today"),
        ("Cara", "Log in, download the server logs and check them"),
    ]


def test_going_on_as_before_and_showing_or_telling_in_the_meeting_are_no_tasks():
    assert found(
        "Ann: That was effective, let's proceed like that for the rest of the project.\n"
        "Bob: And we will continue this way.\n"
        "Cara: Bob, could you demonstrate the new parser?\n"
        "Ann: Can you explain what the status of the migration is?\n"
        "Bob: I'll present the parser results at the review next week.\n"
        "Cara: Ann, can you tell Dan to renew the company domain?"
    ) == [
        ("Bob", "Present the parser results at the review next week"),
        ("Ann", "Tell Dan to renew the company domain"),
    ]


def test_in_an_anonymised_meeting_only_an_anonymised_name_is_a_person():
    assert found(
        "(PERSON1) Well Overleaf will work as a Git repository for the paper.\n"
        "(PERSON2) And [PERSON3] will write the abstract of the paper."
    ) == [("PERSON3", "Write the abstract of the paper")]
    assert found("Ann: Bob will write the abstract of the paper.") == [
        ("Bob", "Write the abstract of the paper")
    ]


def test_please_said_again_and_again_before_a_name_is_not_a_task():
    assert found(
        "(PERSON1) But please please please please [PERSON2] touch with the hosting vendor.\n"
        "(PERSON2) Okay.\n"
        "(PERSON1) [PERSON2], please renew the certificate."
    ) == [("PERSON2", "Renew the certificate")]
