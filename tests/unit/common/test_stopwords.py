"""One stopword list: the classifier's keywords and meeting_intel's topic terms leave out
the same written function words; only transcripts also leave out the words of talk."""

from services.classifier.keywords import candidates
from services.common.stopwords import SPOKEN, WRITTEN
from services.meeting_intel.keywords import terms


def test_both_extractors_leave_out_the_same_written_stopwords():
    text = "Whereby the budget grows, the board approves hiring according to plan."
    kept = {w for phrase in candidates(text) for w in phrase.lower().split()}
    said = {w for term in terms(text) for w in term.split()}
    assert kept & WRITTEN == set() and said & WRITTEN == set()
    assert {"budget", "board", "hiring"} <= kept & said


def test_words_of_talk_are_stopwords_of_transcripts_only():
    assert {"yeah", "okay", "think", "stuff"} <= SPOKEN - WRITTEN
    assert WRITTEN <= SPOKEN
    assert "okay" not in terms("okay the budget okay") and "budget" in terms("okay the budget")
