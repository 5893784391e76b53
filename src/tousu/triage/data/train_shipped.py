"""Train the model that ships with Tousu from ``corpus.csv`` (train split only) and write
``model.bin`` beside it; print its scores on the held-out split.

Run ``python -m tousu.triage.data.train_shipped`` after changing the corpus or the features.
"""

from __future__ import annotations

import json
from pathlib import Path

from tousu.triage.engine import Classifier, corpus_examples

OUT = Path(__file__).with_name("model.bin")


def main() -> None:
    train, test = corpus_examples("train"), corpus_examples("test")
    model = Classifier.fit(train, meta={"version": "shipped", "source": "corpus.csv"})
    scores = model.evaluate(test)
    model.meta["scores"] = scores
    model.save(OUT)
    print(json.dumps(scores, ensure_ascii=False))
    print(f"{OUT}: {OUT.stat().st_size / 1e6:.2f} MB, trained on {len(train)} rows")


if __name__ == "__main__":
    main()
