import numpy as np

from services.classifier.keywords import candidates, select

ARTICLE = (
    "Chelsea win the league title\n\n"
    "Chelsea won the Premier League title on Saturday after a 2-0 win at Bolton. "
    "Frank Lampard scored both goals as Chelsea's players celebrated the club's first "
    "league title in 50 years. Their manager Jose Mourinho praised the players and the fans. "
    "The Premier League champions will lift the trophy at Stamford Bridge next week."
)


def test_candidates_are_content_phrases_without_stopwords_numbers_or_case_changes():
    phrases = candidates(ARTICLE)
    assert {"Chelsea", "Premier League", "Frank Lampard", "Jose Mourinho"} <= set(phrases)
    lowered = {p.casefold() for p in phrases}
    assert not lowered & {"the", "on", "after", "2-0", "50"}
    assert not any(p.split()[0].casefold() in {"the", "a", "at"} for p in phrases)
    # a name and the noun after it are separate phrases
    assert "manager Jose Mourinho" not in phrases
    # possessives close a phrase and lose their 's
    assert "Chelsea's players" not in phrases


def test_candidates_are_distinct_most_frequent_first_and_capped():
    phrases = candidates(ARTICLE, limit=5)
    assert len(phrases) == 5 == len({p.casefold() for p in phrases})
    assert phrases[0] == "league"  # "league" and "League" are one candidate


def test_keywords_are_relevant_diverse_and_scored_best_first(encoder):
    phrases = candidates(ARTICLE)
    vectors = encoder.encode(phrases).vectors
    document = encoder.encode([ARTICLE]).vectors[0]
    keywords = select(phrases, vectors, document, 5)
    texts = [k.text for k in keywords]
    assert len(keywords) == 5
    assert any("Chelsea" in t or "league" in t.casefold() for t in texts)
    scores = [k.score for k in keywords]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_near_duplicates_are_dropped(encoder):
    phrases = ["league title", "league titles", "Premier League title", "Frank Lampard"]
    vectors = encoder.encode(phrases).vectors
    document = encoder.encode(["Chelsea won the Premier League title."]).vectors[0]
    texts = [k.text for k in select(phrases, vectors, document, 4)]
    assert sum("title" in t for t in texts) == 1
    assert "Frank Lampard" in texts


def test_no_candidates_or_no_count_give_no_keywords():
    assert select([], np.empty((0, 3)), np.ones(3), 5) == []
    assert select(["a"], np.ones((1, 3)), np.ones(3), 0) == []
