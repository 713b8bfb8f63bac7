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


def test_batches_of_mixed_lengths_give_each_text_its_own_vector_in_order(encoder):
    texts = ["word " * 300, "Short.", "A medium sentence about budgets and invoices.", "Hi"]
    together = encoder.encode(texts)
    for i, text in enumerate(texts):
        alone = encoder.encode([text])
        assert np.allclose(together.vectors[i], alone.vectors[0], atol=1e-4)
        assert together.tokens[i] == alone.tokens[0]


def test_batches_stay_under_the_padded_token_budget(encoder):
    lengths = [256] * 20 + [10] * 100
    batches = encoder._batches(lengths)
    assert sorted(i for batch in batches for i in batch) == list(range(120))
    for batch in batches:
        padded = max(lengths[i] for i in batch) * len(batch)
        assert padded <= encoder.max_batch_tokens and len(batch) <= encoder.max_batch_size


def test_inference_threads_sleep_rather_than_spin(encoder):
    # On shared cores a spinning thread burns the CPU the other services need.
    options = encoder.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
