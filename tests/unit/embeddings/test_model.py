import numpy as np


def test_vectors_are_unit_length_and_match_the_model_width(encoder):
    encoded = encoder.encode(["A man is playing a guitar.", "Markets fell sharply."])
    assert encoded.vectors.shape == (2, encoder.dimensions) == (2, 384)
    assert np.allclose(np.linalg.norm(encoded.vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrases_are_closer_than_unrelated_sentences(encoder):
    a, b, c = encoder.encode(
        ["A man is playing a guitar.", "Someone plays an instrument.", "Markets fell sharply."]
    ).vectors
    assert a @ b > a @ c + 0.3


def test_padding_to_the_batch_longest_does_not_change_a_vector(encoder):
    short = "Short text."
    alone = encoder.encode([short]).vectors[0]
    batched = encoder.encode([short, "A much longer sentence " * 10]).vectors[0]
    assert np.allclose(alone, batched, atol=1e-4)


def test_long_text_is_cut_at_max_tokens_and_says_so(encoder):
    encoded = encoder.encode(["word " * 600, "short"])
    assert encoded.truncated == [True, False]
    assert encoded.tokens[0] == 256
    assert encoded.tokens[1] == 3  # [CLS] short [SEP]
