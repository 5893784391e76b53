"""Triage: the shipped classifier (scores on its held-out corpus, rules, explanation),
``tousu classify`` (files, stdin/stdout, bad input, no migrated database) and ``tousu train``
(versions, activation, switching back, refusals that change nothing)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tousu.audit.models import AuditEvent, AuditKind
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.complaints.states import Status
from tousu.ops.seed import CATEGORIES
from tousu.triage import engine, rules, selectors
from tousu.triage.models import ModelVersion
from tousu.triage.services import _better_or_equal, model_activate, model_deactivate_all, model_train

ROOT = Path(__file__).resolve().parents[1]


# -- the corpus and the shipped model -------------------------------------------------------------------
def test_corpus_has_the_guide_columns_and_a_fixed_held_out_fifth():
    rows = engine.corpus_rows()
    assert len(rows) >= 3000
    assert list(rows[0]) == [
        "id",
        "text",
        "category",
        "subcategory",
        "level",
        "escalation_risk",
        "channel",
        "split",
    ]
    test = [r for r in rows if r["split"] == "test"]
    assert 0.15 <= len(test) / len(rows) <= 0.25
    assert {r["category"] for r in rows} == {"billing", "service", "network", "business", "other"}
    assert {r["level"] for r in rows} == set(engine.LEVELS)
    assert all(r["subcategory"].split("-")[0] == r["category"] for r in rows)
    # the held-out rows never appear in training, not even as the same text
    assert not {r["text"] for r in test} & {r["text"] for r in rows if r["split"] == "train"}


def test_corpus_labels_are_codes_of_the_bootstrap_category_tree():
    tree = {top for top, *_rest, leaves in CATEGORIES if not leaves}
    tree |= {leaf[0] for *_head, leaves in CATEGORIES for leaf in leaves}
    assert {r["subcategory"] for r in engine.corpus_rows()} == tree


def test_shipped_model_meets_the_targets_on_the_held_out_split():
    scores = engine.shipped().evaluate(engine.corpus_examples("test"))
    assert scores["category_f1"] >= 0.90
    assert scores["level_f1"] >= 0.70
    assert scores["escalation_f1"] >= 0.85
    assert scores == engine.shipped().meta["scores"]  # the file is the one trained from this corpus


@pytest.mark.parametrize(
    ("text", "category", "level", "escalates"),
    [
        ("话费莫名其妙多扣了1200元，不退钱我就去工信部投诉", "billing", "major", True),
        ("家里宽带断网两天了，光猫红灯一直闪", "network", "dissatisfied", False),
        ("营业厅工作人员态度恶劣，对我大吼大叫，太过分了！！", "service", "very_dissatisfied", False),
        ("没经过我同意就把我的套餐改了", "business", "dissatisfied", False),
        ("想表扬一下装维师傅，服务很好", "other", "dissatisfied", False),
        ("整个片区停网停话，打120都打不出去", "network", "crisis", False),
    ],
)
def test_shipped_model_on_unseen_sentences(text, category, level, escalates):
    pred = engine.shipped().predict(text)
    assert (pred.category, pred.level, pred.escalates) == (category, level, escalates)
    assert pred.subcategory.startswith(category)


def test_rules_fire_on_the_guides_words_and_not_on_symptoms():
    assert rules.signals("再不处理我就打12315") == ["regulator"]
    assert rules.signals("这是我第三次投诉了") == ["repeat"]
    assert rules.signals("宽带已经报修2次了") == ["repeat"]
    assert "legal" in rules.signals("我要找律师起诉你们")
    assert "big_amount" in rules.signals("扣了我1800多元")
    assert "big_amount" not in rules.signals("扣了我18元")
    # a bare platform mention or a repeated symptom is no escalation
    assert rules.signals("刷抖音一直转圈") == []
    assert rules.signals("宽带一天断好几次") == []
    pred = engine.shipped().predict("刷抖音一直转圈，网速太慢")
    assert not pred.escalates


def test_explanation_names_the_words_and_signals():
    pred = engine.shipped().predict("这是第三次投诉了，彩铃业务每月扣费10元，我从来没订过，要去工信部")
    assert pred.signals[:2] == ["regulator", "repeat"]
    assert "提到监管或政府热线 → 越级风险" in pred.explanation
    assert "再次投诉/多次报修 → 重复投诉" in pred.explanation
    assert pred.explanation.startswith("关键词 “")
    assert pred.escalation_risk >= engine.ESCALATION_FLOOR
    assert pred.as_dict()["confidence"] == pred.confidence


def test_model_round_trips_through_its_file(tmp_path):
    model = engine.shipped()
    model.save(tmp_path / "m.bin")
    again = engine.Classifier.load(tmp_path / "m.bin")
    texts = [e.text for e in engine.corpus_examples("test")[:50]]
    assert [p.as_dict() for p in again.predict_many(texts)] == [
        p.as_dict() for p in model.predict_many(texts)
    ]
    (tmp_path / "bad.bin").write_bytes(b"not a model")
    with pytest.raises(Exception):  # noqa: B017, PT011 - zlib/pickle errors: never loaded silently
        engine.Classifier.load(tmp_path / "bad.bin")


# -- tousu classify ---------------------------------------------------------------------------------------
def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_classify_file_keeps_rows_and_adds_the_columns(tmp_path, db):
    src = tmp_path / "in.csv"
    _write(
        src,
        [
            {"no": "1", "body": "上个月销户了，这个月还在扣我的月租，我要打12315"},
            {"no": "2", "body": ""},
        ],
    )
    call_command(
        "classify", "--input", str(src), "--output", str(tmp_path / "out.csv"), "--text-column", "body"
    )
    with (tmp_path / "out.csv").open(encoding="utf-8") as fh:
        out = list(csv.DictReader(fh))
    assert list(out[0]) == [
        "no",
        "body",
        "category",
        "subcategory",
        "level",
        "escalation_risk",
        "confidence",
        "explanation",
    ]
    assert [r["no"] for r in out] == ["1", "2"]
    assert out[0]["category"] == "billing"
    assert out[0]["level"] == "major"
    assert float(out[0]["escalation_risk"]) >= engine.ESCALATION_FLOOR
    assert "越级风险" in out[0]["explanation"]
    assert out[1]["body"] == ""
    assert out[1]["category"] in {
        "billing",
        "service",
        "network",
        "business",
        "other",
    }


def test_classify_refuses_a_missing_column_and_writes_nothing(tmp_path, db):
    src = tmp_path / "in.csv"
    _write(src, [{"description": "没信号"}])
    with pytest.raises(CommandError, match=r"no column 'text'.*description"):
        call_command("classify", "--input", str(src), "--output", str(tmp_path / "out.csv"))
    assert not (tmp_path / "out.csv").exists()
    with pytest.raises(CommandError, match="cannot read"):
        call_command("classify", "--input", str(tmp_path / "absent.csv"), "--output", "-")


def test_classify_runs_from_stdin_to_stdout_without_a_migrated_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TOUSU_DATABASE_URL"}
    env["TOUSU_DATA_DIR"] = str(tmp_path / "fresh")  # an empty data dir: no tables at all
    proc = subprocess.run(
        [sys.executable, "-m", "tousu.cli", "classify", "--input", "-", "--output", "-"],
        input="text\n卧室里一格信号都没有\n".encode(),
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = list(csv.DictReader(io.StringIO(proc.stdout.decode("utf-8"))))
    assert len(out) == 1
    assert (out[0]["category"], out[0]["subcategory"]) == ("network", "network-signal")
    assert "classified 1 rows with model shipped" in proc.stderr.decode()


# -- tousu train, versions ------------------------------------------------------------------------------
@pytest.fixture
def closed_cases(cases, org):
    made = []
    for i in range(12):
        made.append(
            cases.make(
                Status.CLOSED,
                fcr=True,
                description=f"账单多扣了{10 + i}元彩铃费，要求退还",
                level="dissatisfied",
            )
        )
        made.append(
            cases.make(
                Status.CLOSED,
                fcr=True,
                category_id=org["outage"].pk,
                level="major",
                threatens_external=True,
                description=f"小区宽带断网{i + 2}天了，再不修就去工信部投诉",
            )
        )
    return made


def test_train_creates_an_active_version_and_the_classifier_uses_it(closed_cases, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    out = io.StringIO()
    call_command("train", "--cases-only", "--force", stdout=out, stderr=io.StringIO())
    row = ModelVersion.objects.get()
    assert row.is_active
    assert row.trained_on == sum(1 for c in closed_cases if c.pk % 5 != 0)
    assert (tmp_path / row.file).is_file()
    assert set(row.scores) == {"category_f1", "subcategory_f1", "level_f1", "escalation_f1", "n"}
    assert f"version {row.version} is now active" in out.getvalue()
    assert "category_f1" in out.getvalue()
    assert selectors.current_version_label() == row.version
    pred = selectors.current_classifier().predict("宽带断网了，去工信部投诉")
    assert pred.subcategory == "network-outage"
    audit = AuditEvent.objects.get(kind=AuditKind.CONFIG_CHANGED, object_type="triage.modelversion")
    assert audit.payload == {"activated": row.version, "previous": []}

    # a second run on the same cases is as good: it replaces the first
    result = model_train(with_corpus=False)
    assert result.activated
    assert list(ModelVersion.objects.filter(is_active=True).values_list("version", flat=True)) == [
        result.version.version
    ]

    # the admin switches back to the first one, then to the shipped model
    model_activate(version=row.version, actor=None)
    assert selectors.current_version_label() == row.version
    model_deactivate_all(actor=None)
    assert not ModelVersion.objects.filter(is_active=True).exists()
    assert selectors.current_version_label() == "shipped"


def test_not_worse_rule():
    old = {"category_f1": 0.9, "level_f1": 0.8, "escalation_f1": 0.9}
    assert _better_or_equal(dict(old), old)
    assert not _better_or_equal({**old, "level_f1": 0.7}, old)
    assert _better_or_equal({**old, "level_f1": 0.7, "category_f1": 1.0}, old)


def test_train_refuses_too_few_cases_and_changes_nothing(cases, unchanged, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    cases.make(Status.CLOSED, fcr=True)
    with unchanged(), pytest.raises(CommandError, match="Only 1 closed cases"):
        call_command("train", stdout=io.StringIO(), stderr=io.StringIO())
    assert not (tmp_path / selectors.MODELS_DIR).exists()


def test_switching_is_for_administrators_only(closed_cases, people, unchanged, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first = model_train(with_corpus=False, force=True).version
    model_deactivate_all(actor=people["admin"])
    with unchanged(), pytest.raises(PermissionDenied):
        model_activate(version=first.version, actor=people["supervisor"])
    with unchanged(), pytest.raises(NotFound):
        model_activate(version="nope", actor=people["admin"])
    (tmp_path / first.file).unlink()
    with unchanged(), pytest.raises(ValidationError, match="missing"):
        model_activate(version=first.version, actor=people["admin"])
    with unchanged(), pytest.raises(PermissionDenied):
        model_deactivate_all(actor=people["agent"])
