"""Classifier speed: model load time, batch throughput on one core, single-text latency.

``python bench/classify.py`` prints ``load_s=``, ``texts_per_s=`` (batch classification of the
held-out corpus, repeated, beyond start-up) and ``suggest_p95_ms=`` (one text at a time, as the
registration page's suggestion asks it, with explanation).
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from tousu.triage import engine


def main() -> None:
    t0 = time.perf_counter()
    model = engine.Classifier.loads(engine.shipped_blob())
    load_s = time.perf_counter() - t0
    texts = [e.text for e in engine.corpus_examples("test")]
    batch = texts * 10
    model.predict_many(texts[:50])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(batch), 1000):
        model.predict_many(batch[i : i + 1000])
    tps = len(batch) / (time.perf_counter() - t0)
    lat = []
    for text in texts[:500]:
        t = time.perf_counter()
        model.predict(text).as_dict()
        lat.append((time.perf_counter() - t) * 1000)
    p95 = statistics.quantiles(lat, n=20)[18]
    print(f"load_s={load_s:.3f}")
    print(f"texts_per_s={tps:.0f}")
    print(f"suggest_p95_ms={p95:.2f}")


if __name__ == "__main__":
    main()
