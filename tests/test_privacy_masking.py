"""Free-text masking: phones, ID-card numbers (with their check character), bank cards (Luhn) and
e-mail addresses in what people typed are masked in pages and the API unless revealed (audited)."""

from __future__ import annotations

import pytest

from tousu.audit.models import AuditEvent
from tousu.common.masking import (
    is_bank_card_number,
    is_id_card_number,
    mask_text,
)
from tousu.complaints import services as svc
from tousu.complaints.states import Status

CARD = "6222021234567890128"  # Luhn-valid
ID_NUMBER = "11010519491231002X"


def test_luhn_and_id_checksums():
    assert is_bank_card_number(CARD)
    assert is_bank_card_number("4111111111111111")
    assert not is_bank_card_number("6222021234567890123")
    assert is_id_card_number(ID_NUMBER)
    assert is_id_card_number("110105194912310021") is False


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("请回电13812348000", "请回电138****8000"),
        ("电话 +86 138 1234 8000。", "电话 138****8000。"),
        ("号码138-1234-8000", "号码138****8000"),
        ("8613812348000", "138****8000"),
        (f"身份证{ID_NUMBER}被冒用", "身份证110***********002X被冒用"),
        (f"卡号 {CARD} 扣款", "卡号 6222***********0128 扣款"),
        ("卡号 6222 0212 3456 7890 128", "卡号 6222***********0128"),
        ("邮箱 zhang.san@example.com.cn 联系", "邮箱 z***@example.com.cn 联系"),
        # not identifiers: amounts, dates, order numbers, ticket numbers, a wrong checksum
        ("3月账单多扣30元，订单2026120400012", "3月账单多扣30元，订单2026120400012"),
        ("工单TS202612040001号", "工单TS202612040001号"),
        ("身份证110105194912310021", "身份证110105194912310021"),
        ("卡号6222021234567890123", "卡号6222021234567890123"),
        ("", ""),
    ],
)
def test_mask_text_masks_each_kind_of_identifier(text, masked):
    assert mask_text(text) == masked


@pytest.mark.django_db
def test_the_case_page_and_api_show_free_text_masked_and_the_reveal_is_audited(client, cases, people):
    c = cases.make(Status.INVESTIGATING, description=f"身份证{ID_NUMBER}被冒用，回电13912340000，卡{CARD}")
    svc.complaint_note(actor=people["handler"], complaint_id=c.pk, text="邮箱 lisi@example.com")
    client.force_login(people["handler"])
    page = client.get(f"/cases/{c.pk}/").content.decode()
    for clear in (ID_NUMBER, "13912340000", CARD, "lisi@example.com"):
        assert clear not in page
    assert "身份证110***********002X被冒用，回电139****0000，卡6222***********0128" in page
    assert "l***@example.com" in page

    from tousu.api.tmf import ticket_core

    body = repr(ticket_core(c, resource="/tmf-api/troubleTicket"))
    assert ID_NUMBER not in body
    assert "110***********002X" in body

    assert svc.complaint_reveal(actor=people["handler"], complaint_id=c.pk, field="description") == (
        f"身份证{ID_NUMBER}被冒用，回电13912340000，卡{CARD}"
    )
    assert AuditEvent.objects.filter(kind="personal_data.revealed", field="description").count() == 1
