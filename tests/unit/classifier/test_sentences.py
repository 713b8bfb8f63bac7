from services.classifier.sentences import split_sentences, windows

NEWS = (
    "Ad sales boost Time Warner profit\n\n"
    "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn for the three "
    "months to December. Dr. Smith met Mr. J. Doe at 3 p.m. on Jan. 5 in the U.S. office. "
    "Was it wise? Yes!"
)


def test_sentences_survive_abbreviations_initials_and_decimals_and_drop_blank_lines():
    assert split_sentences(NEWS) == [
        "Ad sales boost Time Warner profit",
        "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn for the three "
        "months to December.",
        "Dr. Smith met Mr. J. Doe at 3 p.m. on Jan. 5 in the U.S. office.",
        "Was it wise?",
        "Yes!",
    ]


def test_windows_keep_every_word_in_order_and_stay_within_the_encoder_limit(encoder):
    sentences = [f"Sentence number {i} talks about budgets, invoices and plans." for i in range(90)]
    chunks = windows(sentences, max_tokens=200)
    assert len(chunks) > 1
    assert " ".join(chunks).split() == " ".join(sentences).split()
    assert not any(encoder.encode(chunks).truncated)  # the encoder reads each whole


def test_a_sentence_longer_than_a_window_is_cut_by_words():
    endless = " ".join(f"word{i}" for i in range(1000))
    chunks = windows([endless], max_tokens=100)
    assert len(chunks) >= 10
    assert " ".join(chunks) == endless


def test_a_short_text_is_one_window():
    assert windows(split_sentences("One sentence. Another one.")) == ["One sentence. Another one."]
