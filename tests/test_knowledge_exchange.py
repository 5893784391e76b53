"""Articles go out and come back through xlsx and a Markdown folder; a bad row refuses the file."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from tousu.knowledge.models import Article, ArticleVersion
from tousu.knowledge.starter import starter_load
from tousu.ops.seed import seed_reference

pytestmark = pytest.mark.django_db


@pytest.fixture
def library(db):
    seed_reference()
    starter_load()


def test_xlsx_round_trip_changes_nothing_and_an_edit_makes_one_new_version(library, tmp_path):
    path = tmp_path / "kb.xlsx"
    call_command("kb", "export", str(path))
    book = load_workbook(path)
    sheet = book.worksheets[0]
    assert sheet.max_row == 64
    assert sheet.cell(1, 1).value == "reference"
    versions = ArticleVersion.objects.count()
    call_command("kb", "import", str(path))
    assert ArticleVersion.objects.count() == versions
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "kb-002")
    row[1].value = "停机保号收费标准（新）"
    book.save(path)
    call_command("kb", "import", str(path))
    article = Article.objects.get(external_ref="kb-002")
    assert (article.title, article.versions.count()) == ("停机保号收费标准（新）", 2)


def test_markdown_folder_round_trip(library, tmp_path):
    call_command("kb", "export", str(tmp_path / "md"))
    files = sorted(p.name for p in (tmp_path / "md").glob("*.md"))
    assert len(files) == 63
    assert files[0] == "kb-001.md"
    text = (tmp_path / "md" / "kb-063.md").read_text(encoding="utf-8")
    assert "valid_until: 2025-11-30" in text
    (tmp_path / "md" / "new-1.md").write_text(
        "---\ntitle: 积分兑换规则\ndepartment: billing\ntags: 积分\n---\n积分可兑换话费。\n", encoding="utf-8"
    )
    call_command("kb", "import", str(tmp_path / "md"))
    assert Article.objects.get(external_ref="new-1").title == "积分兑换规则"


def test_a_bad_row_refuses_the_whole_file(library, tmp_path, unchanged):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.md").write_text("---\ntitle: 好的\ndepartment: billing\n---\n正文\n", encoding="utf-8")
    (folder / "b.md").write_text("---\ntitle: 坏的\ndepartment: nowhere\n---\n正文\n", encoding="utf-8")
    with unchanged(), pytest.raises(CommandError, match=r"b\.md: Unknown department 'nowhere'"):
        call_command("kb", "import", str(folder))
