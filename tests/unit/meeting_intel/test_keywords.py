from services.meeting_intel.keywords import stretch_keywords, terms


def test_terms_are_content_words_and_pairs_of_them_without_speech_fillers():
    assert terms("Yeah, I think the release notes are okay, [PERSON3] and ASR.") == [
        "release",
        "notes",
        "release notes",
        "ASR",
    ]


def test_each_stretch_gets_the_words_it_uses_more_than_the_others():
    stretches = [
        "budget budget costs costs invoices meeting meeting",
        "picnic picnic park park sandwiches meeting meeting",
    ]
    first, second = stretch_keywords(stretches, count=2)
    assert set(first) <= {"budget", "costs", "invoices"} and len(first) == 2
    assert set(second) <= {"picnic", "park", "sandwiches"} and len(second) == 2


def test_speaker_names_and_repeated_words_of_a_phrase_are_left_out():
    [keywords] = stretch_keywords(["ann ann budget review budget review"], exclude={"ann"})
    assert "ann" not in keywords
    assert len({word for k in keywords for word in k.split()}) == sum(
        len(k.split()) for k in keywords
    )
