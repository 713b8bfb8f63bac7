import numpy as np

from services.classifier.summary import central_sentences

SENTENCES = [
    "The council approved the new budget for road repairs this spring.",
    "Weather",
    "My cat likes to sleep on the warm windowsill all afternoon.",
    "The budget gives road repairs twice the money of last year.",
    "Councillors said the repair budget would cover every main road.",
]


def test_the_most_central_sentences_come_back_in_document_order(encoder):
    vectors = encoder.encode(SENTENCES).vectors
    picked = central_sentences(SENTENCES, vectors, 2)
    assert len(picked) == 2
    assert SENTENCES[2] not in picked
    assert picked == sorted(picked, key=SENTENCES.index)


def test_fragments_are_never_picked_and_asking_for_more_gives_what_there_is(encoder):
    vectors = encoder.encode(SENTENCES).vectors
    picked = central_sentences(SENTENCES, vectors, 10)
    assert picked == [s for s in SENTENCES if s != "Weather"]


def test_no_count_or_no_sentences_give_no_summary_and_one_sentence_is_its_own():
    assert central_sentences(SENTENCES, np.eye(5), 0) == []
    assert central_sentences([], np.empty((0, 3)), 3) == []
    assert central_sentences(["Just one."], np.eye(1), 3) == ["Just one."]


def test_a_repeated_sentence_is_given_once(encoder):
    sentences = [SENTENCES[0], SENTENCES[3], SENTENCES[0], SENTENCES[4], SENTENCES[0]]
    picked = central_sentences(sentences, encoder.encode(sentences).vectors, 3)
    assert picked.count(SENTENCES[0]) == 1
