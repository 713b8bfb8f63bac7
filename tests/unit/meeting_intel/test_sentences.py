from services.meeting_intel.sentences import clean, split
from services.meeting_intel.transcript import parse_text


def test_clean_drops_fillers_stutters_tags_and_cut_offs():
    assert (
        clean("Ehm, we we we should uh check the <laugh/> data -.") == "We should check the data."
    )
    assert clean("Yeah, so, I can I can send it.") == "I can send it."
    assert clean("Okay.") == "Okay."


def test_sentences_keep_their_segment_and_speaker_and_the_words_as_said():
    transcript = parse_text("Ann: Hello all. Ehm, the the plan is ready.\nBob: Good <laugh/>.")
    sentences = split(transcript)
    assert [(s.segment, s.speaker, s.text, s.clean) for s in sentences] == [
        (0, "Ann", "Hello all.", "Hello all."),
        (0, "Ann", "Ehm, the the plan is ready.", "The plan is ready."),
        (1, "Bob", "Good .", "Good."),
    ]
    assert [s.index for s in sentences] == [0, 1, 2]


def test_a_sentence_of_fillers_only_is_dropped():
    sentences = split(parse_text("Ann: Ehm. Uh. The budget is fine."))
    assert [s.clean for s in sentences] == ["The budget is fine."]


def test_transcript_markup_fillers_and_repeated_words_are_gone_from_the_clean_form():
    said = (
        "Um, the User Interface Designer and {disfmarker} And the bulb {vocalsound} uh will"
        " be {pause} somewhere inside and and {gap} near the top."
    )
    assert (
        clean(said)
        == "The User Interface Designer and the bulb will be somewhere inside and near the top."
    )
    [sentence] = split(parse_text(f"Ann: {said}"))
    assert "{" not in sentence.text and "{" not in sentence.clean
