"""The text classifier itself: pure Python + scikit-learn, no Django, so that ``tousu classify``
and the benchmarks run without a database.

Features are character 1–3-grams (TF-IDF, sublinear) plus the rule signals of ``rules.py``;
three logistic regressions predict the leaf category (the top level is the sum of its leaves'
probabilities), the level and the escalation risk. Escalation words that the guide names
(regulator, media, lawyer, repeat…) put a floor under the escalation probability.
"""

from __future__ import annotations

import csv
import io
import pickle
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from tousu.triage import rules

LEVELS = ["dissatisfied", "very_dissatisfied", "major", "crisis"]
RULE_WEIGHT = 3.0
ESCALATION_FLOOR = 0.85
FORMAT = 1


@dataclass
class Prediction:
    category: str
    subcategory: str
    level: str
    escalation_risk: float
    category_confidence: float
    subcategory_confidence: float
    level_confidence: float
    signals: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        """How sure the model is of the category and level it proposes (the smaller of both)."""
        return round(min(self.category_confidence, self.level_confidence), 3)

    @property
    def escalates(self) -> bool:
        return self.escalation_risk >= 0.5

    @property
    def explanation(self) -> str:
        parts = [f"“{w}”" for w in self.words]
        out = ("关键词 " + "、".join(parts) + f" → {self.subcategory}") if parts else ""
        notes = [rules.explain(s) for s in self.signals]
        return "；".join([p for p in [out, *notes] if p])

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "subcategory": self.subcategory,
            "level": self.level,
            "escalation_risk": round(self.escalation_risk, 3),
            "confidence": self.confidence,
            "category_confidence": round(self.category_confidence, 3),
            "level_confidence": round(self.level_confidence, 3),
            "explanation": self.explanation,
            "signals": list(self.signals),
        }


@dataclass
class Example:
    text: str
    subcategory: str
    level: str
    escalation_risk: int


def _rules_matrix(texts: Sequence[str]) -> sparse.csr_matrix:
    return sparse.csr_matrix(np.array([rules.vector(t) for t in texts], dtype=np.float32) * RULE_WEIGHT)


class Classifier:
    def __init__(
        self,
        vectorizer: TfidfVectorizer,
        leaf: LogisticRegression,
        level: LogisticRegression,
        escalation: LogisticRegression,
        meta: dict[str, Any],
    ) -> None:
        self.vectorizer = vectorizer
        self.leaf = leaf
        self.level = level
        self.escalation = escalation
        self.meta = meta
        self.leaf_classes = [str(c) for c in leaf.classes_]
        self.level_classes = [str(c) for c in level.classes_]
        self.tops = sorted({c.split("-")[0] for c in self.leaf_classes})
        self._top_index = np.array([self.tops.index(c.split("-")[0]) for c in self.leaf_classes])
        self._vocab = np.array(vectorizer.get_feature_names_out(), dtype=object)
        self._n_text = len(self._vocab)

    # -- training --------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        examples: Sequence[Example],
        progress: Callable[[str], None] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Classifier:
        step = progress or (lambda _msg: None)
        texts = [e.text for e in examples]
        step("features")
        vectorizer = TfidfVectorizer(
            analyzer="char",
            ngram_range=(1, 3),
            min_df=2,
            sublinear_tf=True,
            max_features=40000,
            dtype=np.float32,
        )
        x = sparse.hstack([vectorizer.fit_transform(texts), _rules_matrix(texts)]).tocsr()
        models = []
        for name, labels, c in [
            ("subcategory", [e.subcategory for e in examples], 20.0),
            ("level", [e.level for e in examples], 5.0),
            ("escalation", [int(e.escalation_risk) for e in examples], 5.0),
        ]:
            step(name)
            clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
            clf.fit(x, labels)
            clf.coef_ = clf.coef_.astype(np.float32)
            clf.intercept_ = clf.intercept_.astype(np.float32)
            models.append(clf)
        leaf, level, escalation = models
        info = {"format": FORMAT, "trained_on": len(examples), **(meta or {})}
        return cls(vectorizer, leaf, level, escalation, meta=info)

    # -- prediction ------------------------------------------------------------------------------
    def _features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return sparse.hstack([self.vectorizer.transform(texts), _rules_matrix(texts)]).tocsr()

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str], explain: bool = True) -> list[Prediction]:
        texts = [t or "" for t in texts]
        if not texts:
            return []
        x = self._features(texts)
        leaf_p = self.leaf.predict_proba(x)
        level_p = self.level.predict_proba(x)
        esc_p = self.escalation.predict_proba(x)[:, 1]
        top_p = np.zeros((len(texts), len(self.tops)), dtype=np.float64)
        for j, t in enumerate(self._top_index):
            top_p[:, t] += leaf_p[:, j]
        out = []
        for i, text in enumerate(texts):
            fired = rules.signals(text)
            top = int(top_p[i].argmax())
            # the best leaf inside the best top-level category, so both always agree
            mask = self._top_index == top
            leaf_idx = int(np.where(mask)[0][leaf_p[i][mask].argmax()])
            lvl = int(level_p[i].argmax())
            esc = float(esc_p[i])
            if any(s in rules.ESCALATION_SIGNALS for s in fired):
                esc = max(esc, ESCALATION_FLOOR)
            words = self._words(x, i, leaf_idx) if explain else []
            out.append(
                Prediction(
                    category=self.tops[top],
                    subcategory=self.leaf_classes[leaf_idx],
                    level=self.level_classes[lvl],
                    escalation_risk=round(esc, 3),
                    category_confidence=float(top_p[i, top]),
                    subcategory_confidence=float(leaf_p[i, leaf_idx]),
                    level_confidence=float(level_p[i, lvl]),
                    signals=[s for s in fired if s != "emotion" or self.level_classes[lvl] != "dissatisfied"],
                    words=words,
                )
            )
        return out

    def _words(self, x: sparse.csr_matrix, row: int, leaf_idx: int, k: int = 3) -> list[str]:
        start, end = x.indptr[row], x.indptr[row + 1]
        cols = x.indices[start:end]
        vals = x.data[start:end]
        keep = cols < self._n_text
        cols, vals = cols[keep], vals[keep]
        if not len(cols):
            return []
        coef = self.leaf.coef_
        if coef.shape[0] == 1:  # two classes: one row of weights, for the second class
            weights = coef[0, cols] if leaf_idx == 1 else -coef[0, cols]
        else:
            weights = coef[leaf_idx, cols]
        contrib = vals * weights
        order = np.argsort(-contrib)
        words: list[str] = []
        for j in order:
            if contrib[j] <= 0 or len(words) >= k:
                break
            w = str(self._vocab[cols[j]]).strip()
            if len(w) < 2 or any(w in other or other in w for other in words):
                continue
            words.append(w)
        return words

    # -- scores ----------------------------------------------------------------------------------
    def evaluate(self, examples: Sequence[Example]) -> dict[str, float]:
        preds = self.predict_many([e.text for e in examples], explain=False)
        return scores(examples, preds)

    # -- persistence -----------------------------------------------------------------------------
    def dumps(self) -> bytes:
        state = {
            "format": FORMAT,
            "vectorizer": self.vectorizer,
            "leaf": self.leaf,
            "level": self.level,
            "escalation": self.escalation,
            "meta": self.meta,
        }
        return zlib.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), 9)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(self.dumps())
        tmp.replace(path)

    @classmethod
    def loads(cls, blob: bytes) -> Classifier:
        # Only files that Tousu wrote itself (the shipped model, or `tousu train` under
        # TOUSU_DATA_DIR) are ever loaded here.
        state = pickle.loads(zlib.decompress(blob))
        if state.get("format") != FORMAT:
            raise ValueError("unknown model format")
        return cls(state["vectorizer"], state["leaf"], state["level"], state["escalation"], state["meta"])

    @classmethod
    def load(cls, path: Path) -> Classifier:
        return cls.loads(path.read_bytes())


def scores(examples: Sequence[Example], preds: Sequence[Prediction]) -> dict[str, float]:
    return {
        "category_f1": round(
            float(
                f1_score(
                    [e.subcategory.split("-")[0] for e in examples],
                    [p.category for p in preds],
                    average="macro",
                )
            ),
            4,
        ),
        "subcategory_f1": round(
            float(
                f1_score([e.subcategory for e in examples], [p.subcategory for p in preds], average="macro")
            ),
            4,
        ),
        "level_f1": round(
            float(f1_score([e.level for e in examples], [p.level for p in preds], average="macro")), 4
        ),
        "escalation_f1": round(
            float(f1_score([int(e.escalation_risk) for e in examples], [int(p.escalates) for p in preds])), 4
        ),
        "n": len(examples),
    }


# -- the shipped corpus and model --------------------------------------------------------------------
def corpus_rows(source: Iterable[str] | None = None) -> list[dict[str, str]]:
    if source is None:
        text = resources.files("tousu.triage.data").joinpath("corpus.csv").read_text(encoding="utf-8")
        source = io.StringIO(text)
    return list(csv.DictReader(source))


def corpus_examples(split: str) -> list[Example]:
    return [
        Example(r["text"], r["subcategory"], r["level"], int(r["escalation_risk"]))
        for r in corpus_rows()
        if r["split"] == split
    ]


def shipped_blob() -> bytes:
    return resources.files("tousu.triage.data").joinpath("model.bin").read_bytes()


_shipped: Classifier | None = None


def shipped() -> Classifier:
    global _shipped
    if _shipped is None:
        _shipped = Classifier.loads(shipped_blob())
    return _shipped
