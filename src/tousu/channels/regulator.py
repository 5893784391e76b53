"""Regulator referrals (工信部/通信管理局 申诉转办) imported from a CSV file.

Each data row becomes one case on the ``regulator`` channel, registered and accepted in its own
transaction (so it has a ticket number and the regulator's time limits start), with the referral
number as the case's external id: importing the same file twice imports nothing twice. The result
is a report per row: imported (with the ticket number), already imported, or refused with the
reason. A file whose header is wrong, or that is too big, is refused as a whole before any row.

The columns (header cells may be the English key or the Chinese name; order does not matter):

=================  ============  ========  ==================================================
key                Chinese       needed    value
=================  ============  ========  ==================================================
referral_no        转办编号       yes       the regulator's number for the referral
received_at        收到时间       yes       2026-11-20 09:30 (also 2026/11/20 9:30, seconds,
                                           ISO 8601 with offset, or a date alone); local time
phone              用户号码       yes       the customer's phone number
customer_name      用户姓名       no
service_number     业务号码       no        the number or account complained about
category           投诉分类编码   yes       a leaf category code, e.g. billing-wrong-charge
business_type      业务类型       yes       mobile, broadband… or its Chinese/English name
level              投诉级别       no        dissatisfied (default), very_dissatisfied, major,
                                           crisis, or the name
description        投诉内容       yes
demand             用户诉求       no
region             地区编码       no        a region code
=================  ============  ========  ==================================================
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tousu.accounts.models import Region, User
from tousu.accounts.roles import Cap
from tousu.common.errors import PermissionDenied, TousuError, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.common.phone import normalize_phone
from tousu.complaints.choices import BusinessType, Channel, Level, ReplyChannel
from tousu.complaints.models import Category, Complaint
from tousu.complaints.services import complaint_register


@dataclass(frozen=True)
class Column:
    key: str
    chinese: str
    required: bool


COLUMNS: Final = (
    Column("referral_no", "转办编号", True),
    Column("received_at", "收到时间", True),
    Column("phone", "用户号码", True),
    Column("customer_name", "用户姓名", False),
    Column("service_number", "业务号码", False),
    Column("category", "投诉分类编码", True),
    Column("business_type", "业务类型", True),
    Column("level", "投诉级别", False),
    Column("description", "投诉内容", True),
    Column("demand", "用户诉求", False),
    Column("region", "地区编码", False),
)
_BY_NAME: Final = {name: c for c in COLUMNS for name in (c.key, c.chinese)}
DATETIME_FORMATS: Final = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
)


class Outcome:
    IMPORTED = "imported"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


@dataclass(frozen=True)
class RowResult:
    """What became of one data row. ``line`` is the row's line number in the file (the header is
    line 1)."""

    line: int
    referral_no: str
    outcome: str
    ticket_no: str = ""
    complaint_id: int | None = None
    reason: str = ""


@dataclass
class ImportReport:
    rows: list[RowResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def imported(self) -> int:
        return self.count(Outcome.IMPORTED)

    @property
    def duplicates(self) -> int:
        return self.count(Outcome.DUPLICATE)

    @property
    def refused(self) -> int:
        return self.count(Outcome.REFUSED)


class _RowRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def column_title(column: Column) -> str:
    return f"{column.chinese} ({column.key})"


# --- the file as a whole ----------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """UTF-8 (with or without the byte-order mark Excel writes) or GB18030 (Excel's "CSV" on a
    Chinese Windows)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(
        _("The file is not text in UTF-8 or GB18030. Save it from Excel as “CSV UTF-8” and try again."),
        fields={"file": "encoding"},
    )


def _header(cells: list[str]) -> list[Column | None]:
    """Which column each header cell names. Unknown, repeated or missing columns refuse the file."""
    columns: list[Column | None] = []
    unknown: list[str] = []
    seen: set[str] = set()
    repeated: list[str] = []
    for raw in cells:
        name = raw.strip().lstrip("\ufeff").strip()
        if not name:
            columns.append(None)
            continue
        column = _BY_NAME.get(name) or _BY_NAME.get(name.lower())
        if column is None:
            unknown.append(name)
            continue
        if column.key in seen:
            repeated.append(column_title(column))
        seen.add(column.key)
        columns.append(column)
    problems = []
    if unknown:
        problems.append(_("unknown columns: %(names)s") % {"names": ", ".join(unknown)})
    if repeated:
        problems.append(_("columns given twice: %(names)s") % {"names": ", ".join(repeated)})
    missing = [column_title(c) for c in COLUMNS if c.required and c.key not in seen]
    if missing:
        problems.append(_("missing columns: %(names)s") % {"names": ", ".join(missing)})
    if problems:
        raise ValidationError(
            _("The header row is not right (%(problems)s). Use the template's header.")
            % {"problems": "; ".join(problems)},
            fields={"file": "header"},
        )
    return columns


def _rows(text: str) -> tuple[list[Column | None], list[tuple[int, dict[str, str]]]]:
    """The header's columns and the data rows (line number, values by column key), blank rows left
    out. Refuses a file with no header, or more rows than allowed."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise ValidationError(_("The file is empty."), fields={"file": "empty"})
        columns = _header(header)
        limit = settings.TOUSU_REGULATOR_CSV_MAX_ROWS
        rows: list[tuple[int, dict[str, str]]] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) == limit:
                raise ValidationError(
                    _("The file has more than %(limit)s rows; split it into smaller files.")
                    % {"limit": limit},
                    fields={"file": "too many rows"},
                )
            values = {c.key: "" for c in COLUMNS}
            extra = [cell for cell in cells[len(columns) :] if cell.strip()]
            for column, cell in zip(columns, cells, strict=False):
                if column is not None:
                    values[column.key] = cell.strip()
            if extra:
                values["__extra__"] = "1"
            rows.append((reader.line_num, values))
    except csv.Error as exc:
        raise ValidationError(
            _("The file is not a readable CSV file (line %(line)s: %(problem)s).")
            % {"line": reader.line_num, "problem": exc},
            fields={"file": "csv"},
        ) from None
    return columns, rows


# --- one row ----------------------------------------------------------------------------------------


def _received_at(value: str) -> datetime:
    value = value.strip()
    zone = ZoneInfo(settings.TIME_ZONE)
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        for pattern in DATETIME_FORMATS:
            try:
                parsed = datetime.strptime(value, pattern)  # noqa: DTZ007 — made aware just below
                break
            except ValueError:
                continue
    if parsed is None:
        raise _RowRefused(
            _("'%(value)s' is not a date and time; write it like 2026-11-20 09:30.") % {"value": value}
        )
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=zone)


def _named_choice(value: str, choices: type[BusinessType] | type[Level], what: str) -> str:
    """A choice given by its value or by its Chinese or English name."""
    wanted = value.strip()
    if wanted.lower() in choices.values:
        return wanted.lower()
    for language in ("zh-hans", "en"):
        with translation.override(language):
            for member in choices:
                if wanted.lower() == str(member.label).lower():
                    return str(member.value)
    raise _RowRefused(
        _("Unknown %(what)s '%(value)s'; use one of: %(allowed)s.")
        % {"what": what, "value": value, "allowed": ", ".join(choices.values)}
    )


def _import_row(actor: User, values: dict[str, str], origin: Origin) -> RowResult:
    """Register and accept one referral (the caller gives the line number to the result)."""
    referral_no = values["referral_no"]
    if any("\x00" in value for value in values.values()):
        raise _RowRefused(
            _("The row contains a NUL character (a damaged file?); correct it and import it again.")
        )
    if values.get("__extra__"):
        raise _RowRefused(_("The row has more cells than the header."))
    missing = [column_title(c) for c in COLUMNS if c.required and not values[c.key]]
    if missing:
        raise _RowRefused(_("Missing: %(columns)s.") % {"columns": ", ".join(missing)})
    if len(referral_no) > 100:
        raise _RowRefused(_("The referral number is longer than 100 characters."))
    existing = Complaint.objects.filter(channel=Channel.REGULATOR, external_id=referral_no).first()
    if existing is not None:
        return RowResult(0, referral_no, Outcome.DUPLICATE, existing.ticket_no or "", existing.pk)
    received_at = _received_at(values["received_at"])
    try:
        phone = normalize_phone(values["phone"])
    except ValidationError as exc:
        raise _RowRefused(exc.message) from None
    category = Category.objects.filter(code=values["category"], is_active=True).first()
    if category is None:
        raise _RowRefused(_("Unknown category code '%(code)s'.") % {"code": values["category"]})
    business_type = _named_choice(values["business_type"], BusinessType, _("business type"))
    level = _named_choice(values["level"], Level, _("level")) if values["level"] else Level.DISSATISFIED
    region_id = None
    if values["region"]:
        region = Region.objects.filter(code=values["region"]).first()
        if region is None:
            raise _RowRefused(_("Unknown region code '%(code)s'.") % {"code": values["region"]})
        region_id = region.pk
    try:
        with transaction.atomic():
            complaint = complaint_register(
                actor=actor,
                channel=Channel.REGULATOR,
                external_id=referral_no,
                phone=phone,
                customer_name=values["customer_name"],
                service_number=values["service_number"],
                business_type=business_type,
                category_id=category.pk,
                level=level,
                description=values["description"],
                demand=values["demand"],
                preferred_reply_channel=ReplyChannel.PHONE,
                region_id=region_id,
                received_at=received_at,
                accept=True,
                origin=origin,
            )
            if complaint.registered_before:  # imported meanwhile by someone else
                return RowResult(0, referral_no, Outcome.DUPLICATE, complaint.ticket_no or "", complaint.pk)
    except TousuError as exc:
        raise _RowRefused(exc.message) from None
    return RowResult(0, referral_no, Outcome.IMPORTED, complaint.ticket_no or "", complaint.pk)


def regulator_import_allowed(actor: User) -> bool:
    """Supervisors and managers: they register complaints and act on every case."""
    return actor.is_active and actor.can(Cap.CASE_REGISTER) and actor.can(Cap.CASE_SUPERVISE)


def regulator_import(*, actor: User, data: bytes, origin: Origin = SYSTEM) -> ImportReport:
    """Import the referrals in a CSV file, one transaction per row; see the module's docstring.
    Raises ``ValidationError`` (nothing imported) for a file refused as a whole."""
    if not regulator_import_allowed(actor):
        raise PermissionDenied(_("Only supervisors and managers import regulator referrals."))
    limit = settings.TOUSU_REGULATOR_CSV_MAX_BYTES
    if len(data) > limit:
        raise ValidationError(
            _("The file is larger than %(kb)s KB; split it into smaller files.") % {"kb": limit // 1024},
            fields={"file": "too large"},
        )
    _columns, rows = _rows(_decode(data))
    if not rows:
        raise ValidationError(_("The file has a header but no rows."), fields={"file": "no rows"})
    report = ImportReport()
    # The cases' events say they came from the regulator's file (imported by ``actor``, from where).
    origin = dataclasses.replace(origin, via="regulator")
    for line, values in rows:
        try:
            result = _import_row(actor, values, origin)
        except _RowRefused as refused:
            referral_no = values.get("referral_no", "").replace("\x00", "")
            result = RowResult(0, referral_no, Outcome.REFUSED, reason=refused.reason)
        report.rows.append(replace(result, line=line))
    return report


# --- the template -----------------------------------------------------------------------------------


def _example_category() -> str:
    leaf = (
        Category.objects.filter(is_active=True, parent__isnull=False)
        .exclude(children__is_active=True)
        .order_by("parent__sort_order", "parent__code", "sort_order", "code")
        .values_list("code", flat=True)
        .first()
    )
    return leaf or "billing-wrong-charge"


def regulator_template_csv() -> bytes:
    """The template: the header (Chinese names) and one example row, UTF-8 with the byte-order
    mark so that Excel opens it with the Chinese intact."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.chinese for c in COLUMNS])
    example = {
        "referral_no": "GXB-2026-000123",
        "received_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
        "phone": "13812348000",
        "customer_name": "张三",
        "service_number": "13812348000",
        "category": _example_category(),
        "business_type": BusinessType.MOBILE.value,
        "level": Level.DISSATISFIED.value,
        "description": "用户申诉：3月账单被收取未订购的彩铃费30元，多次联系未解决。",
        "demand": "退还30元并道歉",
        "region": "",
    }
    writer.writerow([example[c.key] for c in COLUMNS])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
