"""Demo data: the organisation, one user per role, the category tree, and N realistic complaints.

Reference data is idempotent (``update_or_create`` by code). Complaints are simulated through the
lifecycle with plausible delays, stopped at "now", and written with bulk inserts (COPY on
PostgreSQL), so a million cases take minutes. Every generated history follows the transition
table; the tests replay them to check.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any, NamedTuple

from django.db import connection, connections, models, transaction
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone

from tousu.accounts.models import ApprovalLimit, Department, Region, User
from tousu.accounts.roles import DEFAULT_APPROVAL_LIMITS, Role
from tousu.analytics.services import analytics_seed_demo
from tousu.common.db import bulk_insert_rows, is_postgres, reset_sequence
from tousu.complaints.choices import (
    BusinessType,
    Channel,
    Level,
    RegulatorGroup,
    RejectionReason,
    RemedyKind,
    ReplyChannel,
    ResolutionKind,
)
from tousu.complaints.events import EventKind
from tousu.complaints.models import (
    Category,
    CategorySynonym,
    Complaint,
    ComplaintEvent,
    Remedy,
    Reply,
    ResolutionPlan,
    ReturnVisit,
    TicketCounter,
)
from tousu.complaints.states import Status
from tousu.customers.models import Customer, CustomerIdentity, IdentityKind
from tousu.quality.services import quality_defaults_install

DEMO_PASSWORD = "tousu-demo"

DEPARTMENTS = [
    ("customer_service", "客户服务部", "Customer service"),
    ("billing", "计费结算部", "Billing"),
    ("network", "网络运维部", "Network operations"),
    ("business", "业务产品部", "Business and products"),
    ("legal", "法律事务部", "Legal"),
    ("marketing", "市场营销部", "Marketing"),
    ("management", "综合管理部", "Management"),
]

REGIONS = [
    ("gz-tianhe", "广州市天河区", False),
    ("gz-baiyun", "广州市白云区", False),
    ("sz-nanshan", "深圳市南山区", False),
    ("sz-longgang", "深圳市龙岗区", False),
    ("fs-shunde", "佛山市顺德区", False),
    ("dg", "东莞市", False),
    ("mz-dabu", "梅州市大埔县", True),
    ("qy-lianshan", "清远市连山县", True),
    ("sg-ruyuan", "韶关市乳源县", True),
    ("zj-xuwen", "湛江市徐闻县", True),
]

# (code, name, English, regulator group, department, business type, [(leaf code, name, English, group or None)])
CATEGORIES: list[tuple[str, str, str, str, str, str, list[tuple[str, str, str, str | None]]]] = [
    (
        "billing",
        "资费类",
        "Billing and charges",
        RegulatorGroup.MARKETING_BILLING,
        "billing",
        BusinessType.MOBILE,
        [
            ("billing-wrong-charge", "错收", "Wrong charge", None),
            ("billing-missed-charge", "漏收", "Missed charge", None),
            ("billing-unclear", "解释不清", "Unclear explanation", None),
            ("billing-huge-bill", "高额账单", "Unusually high bill", None),
            ("billing-sp-charge", "增值业务扣费", "Value-added service charges", None),
            ("billing-refund", "退费充值未到账", "Refund or recharge not credited", None),
            ("billing-roaming", "漫游费用", "Roaming charges", None),
        ],
    ),
    (
        "service",
        "服务类",
        "Service",
        RegulatorGroup.SERVICE,
        "customer_service",
        BusinessType.MOBILE,
        [
            ("service-slow-response", "响应慢", "Slow response", None),
            ("service-attitude", "服务态度差", "Bad attitude", None),
            ("service-ineffective", "处理不力", "Ineffective resolution", None),
            ("service-installer", "装维服务", "Installers and field visits", None),
            ("service-accessibility", "适老化与无障碍", "Elderly and disabled access", None),
        ],
    ),
    (
        "network",
        "网络类",
        "Network",
        RegulatorGroup.NETWORK_SECURITY,
        "network",
        BusinessType.BROADBAND,
        [
            ("network-signal", "信号差", "Poor signal", None),
            ("network-speed", "网速慢", "Slow speed", None),
            ("network-outage", "网络中断", "Outage", None),
            ("network-dropped-calls", "掉话", "Dropped calls", None),
            ("network-iptv", "IPTV故障", "IPTV faults", None),
            ("network-hazard", "设施安全隐患", "Network equipment hazards", None),
        ],
    ),
    (
        "business",
        "业务类",
        "Business and products",
        RegulatorGroup.SERVICE,
        "business",
        BusinessType.VALUE_ADDED,
        [
            ("business-wrong-processing", "办理错误", "Wrong processing", None),
            ("business-opaque-policy", "政策不透明", "Opaque policy", RegulatorGroup.MARKETING_BILLING),
            ("business-portability", "携号转网", "Number portability", None),
            ("business-unauthorised-change", "擅自变更业务", "Changes without consent", None),
            ("business-cancel", "退订销户难", "Cannot cancel or close", None),
            ("business-real-name", "实名制问题", "Real-name registration", None),
            (
                "business-marketing",
                "营销骚扰",
                "Marketing calls and messages",
                RegulatorGroup.MARKETING_BILLING,
            ),
            (
                "business-fraud-suspension",
                "涉诈关停申诉",
                "Anti-fraud suspension appeal",
                RegulatorGroup.NETWORK_SECURITY,
            ),
            (
                "business-personal-info",
                "个人信息问题",
                "Personal information",
                RegulatorGroup.NETWORK_SECURITY,
            ),
        ],
    ),
    ("other", "其他", "Other", RegulatorGroup.SERVICE, "customer_service", BusinessType.OTHER, []),
]

# Words people use for a leaf category without naming it: the registration picker finds the
# categories by them (``CategorySynonym``, edited by admins afterwards).
CATEGORY_SYNONYMS: list[tuple[str, list[str]]] = [
    ("扣费", ["billing-wrong-charge", "billing-huge-bill", "billing-sp-charge"]),
    ("乱扣费", ["billing-wrong-charge", "billing-sp-charge"]),
    ("多扣", ["billing-wrong-charge"]),
    ("话费高", ["billing-huge-bill"]),
    ("账单高", ["billing-huge-bill"]),
    ("没订购", ["billing-sp-charge", "business-unauthorised-change"]),
    ("退款", ["billing-refund"]),
    ("充值", ["billing-refund"]),
    ("没信号", ["network-signal"]),
    ("信号差", ["network-signal"]),
    ("网速慢", ["network-speed"]),
    ("断网", ["network-outage"]),
    ("掉线", ["network-dropped-calls"]),
    ("携号转网", ["business-portability"]),
    ("销户", ["business-cancel"]),
    ("骚扰", ["business-marketing"]),
    ("态度", ["service-attitude"]),
    ("overcharged", ["billing-wrong-charge", "billing-huge-bill"]),
]

# username, display name, role, department
USERS: list[tuple[str, str, Role, str | None]] = [
    ("agent", "王芳", Role.AGENT, "customer_service"),
    ("handler", "李强", Role.HANDLER, "billing"),
    ("handler_network", "张伟", Role.HANDLER, "network"),
    ("handler_business", "刘洋", Role.HANDLER, "business"),
    ("handler_service", "陈静", Role.HANDLER, "customer_service"),
    ("visitor", "赵敏", Role.RETURN_VISIT, "customer_service"),
    ("supervisor", "孙丽", Role.SUPERVISOR, "customer_service"),
    ("manager", "周杰", Role.MANAGER, "management"),
    ("inspector", "吴婷", Role.INSPECTOR, "customer_service"),
    ("auditor", "郑浩", Role.AUDITOR, "legal"),
    ("privacy", "孙悦", Role.PRIVACY_OFFICER, "legal"),
    ("admin", "系统管理员", Role.ADMIN, None),
]


@transaction.atomic
def seed_organisation() -> dict[str, Department]:
    """Departments, regions, the category tree and approval limits (idempotent). No users."""
    departments = {}
    for code, name, name_en in DEPARTMENTS:
        departments[code], _ = Department.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en}
        )
    for code, name, rural in REGIONS:
        Region.objects.get_or_create(code=code, defaults={"name": name, "is_rural": rural})
    for order, (code, name, name_en, group, dept, _btype, leaves) in enumerate(CATEGORIES):
        parent, _ = Category.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "regulator_group": group,
                "default_department": departments[dept],
                "sort_order": order * 10,
            },
        )
        for sub_order, (leaf_code, leaf_name, leaf_en, leaf_group) in enumerate(leaves):
            Category.objects.get_or_create(
                code=leaf_code,
                defaults={
                    "parent": parent,
                    "name": leaf_name,
                    "name_en": leaf_en,
                    "regulator_group": leaf_group or group,
                    "default_department": departments[dept],
                    "sort_order": sub_order,
                },
            )
    leaf_by_code = {c.code: c for c in Category.objects.filter(parent__isnull=False)}
    for word, codes in CATEGORY_SYNONYMS:
        for code in codes:
            if code in leaf_by_code:
                CategorySynonym.objects.get_or_create(category=leaf_by_code[code], word=word)
    analytics_seed_demo(today=timezone.localdate())  # subscribers per region and month, hotline figures
    quality_defaults_install()  # the default sampling rules and scorecard (tousu.quality)
    for role, limit in DEFAULT_APPROVAL_LIMITS.items():
        ApprovalLimit.objects.get_or_create(
            role=role, defaults={"max_amount": None if limit is None else Decimal(limit)}
        )
    return departments


@transaction.atomic
def seed_reference() -> list[User]:
    """The organisation (``seed_organisation``) and one demo user per role (idempotent; an existing
    user's password is left alone)."""
    departments = seed_organisation()
    users = []
    for username, display, role, dept_code in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username)
            user.set_password(DEMO_PASSWORD)
        user.display_name = display
        user.role = role
        user.department = departments[dept_code] if dept_code else None
        user.is_staff = role in (Role.ADMIN, Role.AUDITOR, Role.SUPERVISOR, Role.MANAGER)
        user.is_superuser = role == Role.ADMIN
        user.save()
        users.append(user)
    return users


# --- complaint text ------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬建国建华志强海燕春梅晓东雪梅丹"
MOBILE_PREFIXES = [
    "138",
    "139",
    "135",
    "136",
    "137",
    "150",
    "151",
    "158",
    "159",
    "182",
    "183",
    "186",
    "187",
    "188",
    "133",
    "153",
    "180",
    "189",
    "177",
    "199",
]
VAS = ["彩铃", "视频会员", "游戏包", "手机报", "来电提醒", "流量加油包", "云盘会员"]
PLACES = ["小区", "写字楼", "地下车库", "村委会附近", "高铁站", "学校宿舍", "工业园"]

TEXTS: dict[str, list[tuple[str, str]]] = {
    "billing-wrong-charge": [
        (
            "用户反映{month}月账单中被收取{amount}元{vas}费用，用户表示从未订购该业务。",
            "要求退还{amount}元并取消{vas}。",
        ),
        ("用户称套餐内流量未用完却被收取超出流量费{amount}元，怀疑计费错误。", "要求核查并退还错收费用。"),
    ],
    "billing-missed-charge": [
        (
            "用户反映上月优惠到期后系统补收了{amount}元费用，事先未收到任何通知。",
            "要求说明补收依据，并减免补收费用。",
        ),
    ],
    "billing-unclear": [
        ("用户对{month}月账单中“其他费用”{amount}元不理解，营业厅解释不清。", "要求书面说明每一项费用。"),
    ],
    "billing-huge-bill": [
        (
            "用户{month}月话费高达{amount}元，是平时的五倍以上，未收到任何高额提醒。",
            "要求查明原因，减免异常费用。",
        ),
    ],
    "service-slow-response": [
        ("用户称{days}天前报障至今无人联系，多次拨打热线均被告知等待处理。", "要求尽快安排处理并给予说法。"),
    ],
    "service-attitude": [
        ("用户反映在营业厅办理业务时，工作人员态度恶劣、不耐烦，拒绝解释资费。", "要求工作人员道歉。"),
    ],
    "service-ineffective": [
        ("用户称同一问题已投诉{times}次，每次答复都说已处理，但问题依旧。", "要求升级处理，彻底解决问题。"),
    ],
    "network-signal": [
        ("用户反映家中（{place}）手机信号很差，室内经常无服务，已持续{days}天。", "要求优化信号覆盖。"),
    ],
    "network-speed": [
        ("用户办理的千兆宽带实测只有{speed}兆，晚间几乎无法使用。", "要求上门检测并减免当月费用。"),
    ],
    "network-outage": [
        (
            "用户所在{place}宽带中断{days}天，报修后迟迟未修复，影响居家办公。",
            "要求尽快修复并按规定减免中断期间月租。",
        ),
    ],
    "network-dropped-calls": [
        ("用户反映在{place}通话频繁掉线，一天内掉话超过{times}次。", "要求排查网络问题。"),
    ],
    "business-wrong-processing": [
        (
            "用户办理套餐变更时，工作人员误将其改为{amount}元套餐，用户并未同意。",
            "要求恢复原套餐并退还差价。",
        ),
    ],
    "business-opaque-policy": [
        ("用户称办理合约时未被告知违约金条款，现提前解约被要求支付{amount}元。", "要求免除违约金。"),
    ],
    "business-portability": [
        (
            "用户申请携号转网被告知存在未到期合约无法办理，用户认为合约已到期。",
            "要求核实合约并办理携号转网。",
        ),
    ],
    "business-fraud-suspension": [
        ("用户号码因涉诈风险被关停，用户称本人正常使用，无任何诈骗行为，影响工作。", "要求尽快复机。"),
    ],
    "business-personal-info": [
        (
            "用户怀疑个人信息被泄露，近期频繁接到推销电话，对方能说出其套餐信息。",
            "要求调查信息泄露原因并给予答复。",
        ),
    ],
    "other": [
        ("用户对营业厅排队时间过长表示不满，等待超过{days}0分钟。", "要求改进服务。"),
    ],
}


def _fill(text: str, rng: random.Random) -> str:
    return text.format(
        month=rng.randint(1, 12),
        amount=rng.choice([10, 15, 20, 29, 30, 50, 68, 88, 120, 199, 260, 380, 560, 1280]),
        vas=rng.choice(VAS),
        days=rng.randint(2, 9),
        times=rng.randint(3, 8),
        place=rng.choice(PLACES),
        speed=rng.choice([30, 50, 80, 100]),
    )


# --- simulation ----------------------------------------------------------------------------------

CHANNEL_WEIGHTS = [
    (Channel.HOTLINE, 50),
    (Channel.APP, 12),
    (Channel.WECHAT, 10),
    (Channel.ONLINE_CHAT, 8),
    (Channel.WEB, 5),
    (Channel.STORE, 6),
    (Channel.EMAIL, 2),
    (Channel.SOCIAL_MEDIA, 2),
    (Channel.LETTER, 1),
    (Channel.REGULATOR, 4),
]
LEVEL_WEIGHTS = [(Level.DISSATISFIED, 62), (Level.VERY_DISSATISFIED, 28), (Level.MAJOR, 8), (Level.CRISIS, 2)]
REJECTION_REASONS = list(RejectionReason)
RESOLUTION_KINDS = list(ResolutionKind)
MONEY_REMEDIES = [RemedyKind.REFUND, RemedyKind.FEE_WAIVER, RemedyKind.COMPENSATION]
REPLY_CHANNELS = [ReplyChannel.PHONE, ReplyChannel.PHONE, ReplyChannel.SMS, ReplyChannel.EMAIL]


class _Weighted:
    """A weighted choice whose cumulative weights are summed once (the same draws as ``rng.choices``)."""

    def __init__(self, pairs: list[tuple[Any, int]]) -> None:
        self.values = [p[0].value for p in pairs]
        self.cum_weights = list(accumulate(p[1] for p in pairs))

    def draw(self, rng: random.Random) -> Any:
        return rng.choices(self.values, cum_weights=self.cum_weights)[0]


CHANNELS = _Weighted(CHANNEL_WEIGHTS)
LEVELS = _Weighted(LEVEL_WEIGHTS)

# The columns the seed writes per table. Rows are tuples in this order (complaints are dicts with
# these keys, changed as the case moves). A column added to a model later gets its field's default.
COLUMNS: dict[type[models.Model], tuple[str, ...]] = {
    Customer: (
        "id",
        "name",
        "phone",
        "email",
        "wechat_id",
        "id_number",
        "region_id",
        "is_blacklisted",
        "blacklist_reason",
        "merged_into_id",
        "created_at",
        "updated_at",
    ),
    CustomerIdentity: ("id", "customer_id", "kind", "value", "created_at"),
    Complaint: (
        "id",
        "ticket_no",
        "status",
        "version",
        "channel",
        "external_id",
        "customer_id",
        "service_number",
        "business_type",
        "category_id",
        "level",
        "region_id",
        "description",
        "demand",
        "preferred_reply_channel",
        "threatens_external",
        "registered_by_id",
        "first_contact_owner_id",
        "lead_department_id",
        "assignee_id",
        "escalation_level",
        "reopen_count",
        "is_first_contact_resolution",
        "rejection_reason",
        "rejection_explanation",
        "received_at",
        "registered_at",
        "accepted_at",
        "replied_at",
        "closed_at",
        "status_changed_at",
        "updated_at",
    ),
    ComplaintEvent: (
        "id",
        "complaint_id",
        "created_at",
        "kind",
        "actor_id",
        "actor_label",
        "from_status",
        "to_status",
        "payload",
        "pending_dispatch",
    ),
    ResolutionPlan: (
        "id",
        "complaint_id",
        "kind",
        "measures",
        "responsible_id",
        "deadline",
        "proposed_by_id",
        "created_at",
    ),
    Remedy: (
        "id",
        "complaint_id",
        "kind",
        "amount",
        "description",
        "status",
        "requested_by_id",
        "requested_at",
        "decided_by_id",
        "decided_at",
        "decision_note",
    ),
    Reply: ("id", "complaint_id", "channel", "content", "replied_by_id", "replied_at"),
    ReturnVisit: (
        "id",
        "complaint_id",
        "reached",
        "resolved",
        "satisfaction",
        "comment",
        "visited_by_id",
        "visited_at",
    ),
}
# Insert order: parents first.
ORDER: list[type[models.Model]] = list(COLUMNS)


def _layout(model: type[models.Model]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The columns to write for ``model``, and the values appended to every row for the columns the
    seed does not set (a field added since): the field's default, as the ORM would use it."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    unknown = [c for c in COLUMNS[model] if c not in fields]
    if unknown:
        raise RuntimeError(f"seed: {model._meta.label} has no column {unknown}; update tousu.ops.seed.")
    columns, extra = list(COLUMNS[model]), []
    for column, f in fields.items():
        if column in COLUMNS[model] or f.db_default is not NOT_PROVIDED:  # the database fills it
            continue
        value = f.get_default()
        if value is None and not f.null:
            raise RuntimeError(f"seed: no value for {model._meta.label}.{f.name}; update tousu.ops.seed.")
        columns.append(column)
        extra.append(value)
    return tuple(columns), tuple(extra)


class _Actor(NamedTuple):
    """The two things an event needs from a user (cheaper than a model instance in the hot loop)."""

    pk: int
    username: str


class _Batch:
    """Rows simulated since the last write, per table, plus the ticket counters they moved."""

    def __init__(self) -> None:
        self.rows: dict[type[models.Model], list[Any]] = {model: [] for model in ORDER}
        self.complaints: list[dict[str, Any]] = self.rows[Complaint]
        self.events: list[tuple[Any, ...]] = self.rows[ComplaintEvent]
        self.coop: list[tuple[int, int]] = []
        self.counters: dict[str, int] = {}


class _Case:
    """One simulated complaint: walks the lifecycle, recording events, until the clock reaches now."""

    __slots__ = ("id", "row", "sim", "status", "t")

    def __init__(self, sim: _Simulator, complaint_id: int, row: dict[str, Any]) -> None:
        self.sim = sim
        self.id = complaint_id
        self.row = row
        self.status = ""  # before the registration event
        self.t: datetime = row["registered_at"]

    def at(self, minutes_low: float, minutes_high: float) -> bool:
        """Advance the clock; False (and the case stops) when that moment is still in the future."""
        candidate = self.t + timedelta(minutes=self.sim.rng.uniform(minutes_low, minutes_high))
        if candidate > self.sim.now:
            return False
        self.t = candidate
        return True

    def event(
        self,
        kind: EventKind,
        actor: _Actor,
        *,
        to: Status | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Record one event as the services would (``_move`` for a status change, else ``_event``)."""
        row, t, sim = self.row, self.t, self.sim
        if to is None:
            src = dst = ""
        else:
            src, dst = self.status, to.value
            self.status = row["status"] = dst
            row["status_changed_at"] = t
        if kind is not EventKind.REGISTERED:  # creating the case is version 1; every later write adds one
            row["version"] += 1
        row["updated_at"] = t
        event_id = sim.next_event
        sim.next_event = event_id + 1
        sim.batch.events.append(
            (
                event_id,
                self.id,
                t,
                kind.value,
                actor.pk,
                actor.username,
                src,
                dst,
                payload if payload is not None else {},
                False,  # historical: nothing left to notify
            )
        )


class _Simulator:
    def __init__(self, *, seed: int, now: datetime) -> None:
        for model in ORDER:
            _layout(model)  # fail before simulating anything
        self.rng = random.Random(seed)
        self.now = now
        self.tz = timezone.get_current_timezone()
        self.batch = _Batch()
        self.counts = {"complaints": 0, "events": 0, "customers": 0}
        users = list(User.objects.filter(username__in=[u[0] for u in USERS]).select_related("department"))
        self.users = {u.username: _Actor(u.pk, u.username) for u in users}
        self.departments = {d.code: d.pk for d in Department.objects.all()}
        self.regions = list(Region.objects.values_list("pk", flat=True))
        leaves = Category.objects.filter(is_active=True, children__isnull=True).select_related(
            "parent", "default_department"
        )
        business = {c[0]: str(c[5]) for c in CATEGORIES}
        # (id, code, default department code, business type) per leaf that has texts
        self.categories: list[tuple[int, str, str, str]] = [
            (
                c.pk,
                c.code,
                c.default_department.code if c.default_department else "customer_service",
                business.get(c.parent.code if c.parent else c.code, BusinessType.OTHER.value),
            )
            for c in leaves
            if c.code in TEXTS
        ]
        self.handlers = {
            u.department.code: self.users[u.username]
            for u in users
            if u.role == Role.HANDLER and u.department
        }
        self.counters: dict[str, int] = {f"{c.day:%Y%m%d}": c.last for c in TicketCounter.objects.all()}
        self.customers: list[tuple[int, int | None]] = []  # (id, region)
        self.ids = {
            model: (model._default_manager.aggregate(m=models.Max("id"))["m"] or 0) + 1 for model in ORDER
        }
        self.next_event = self.ids[ComplaintEvent]

    @property
    def ready(self) -> bool:
        return bool(self.categories) and "agent" in self.users and "customer_service" in self.handlers

    def take(self, model: type[models.Model]) -> int:
        value = self.ids[model]
        self.ids[model] = value + 1
        return value

    def take_batch(self) -> _Batch:
        """The rows simulated so far (counted), leaving an empty batch for the next ones."""
        batch, self.batch = self.batch, _Batch()
        self.counts["complaints"] += len(batch.complaints)
        self.counts["events"] += len(batch.events)
        self.counts["customers"] += len(batch.rows[Customer])
        return batch

    def ticket(self, moment: datetime) -> str:
        local = moment.astimezone(self.tz)
        day = f"{local.year:04d}{local.month:02d}{local.day:02d}"
        last = self.counters.get(day, 0) + 1
        self.counters[day] = self.batch.counters[day] = last
        return f"TS{day}{last:06d}"

    def customer(self) -> tuple[int, int | None]:
        rng = self.rng
        if self.customers and rng.random() < 0.22:
            return rng.choice(self.customers)  # a repeat complainant
        cid = self.take(Customer)
        serial = (cid * 7_919_341) % 100_000_000  # a bijection on 8 digits: unique numbers per id
        phone = f"+86{MOBILE_PREFIXES[(cid // 100_000_000) % len(MOBILE_PREFIXES)]}{serial:08d}"
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
        region = rng.choice(self.regions)
        created = self.now - timedelta(days=400)
        blacklisted = rng.random() < 0.003
        rows = self.batch.rows
        # id, name, phone, email, wechat_id, id_number, region_id, is_blacklisted, blacklist_reason,
        # merged_into_id, created_at, updated_at
        rows[Customer].append((cid, name, phone, "", "", "", region, blacklisted, "", None, created, created))
        rows[CustomerIdentity].append(
            (self.take(CustomerIdentity), cid, IdentityKind.PHONE.value, phone, created)
        )
        entry = (cid, region)
        self.customers.append(entry)
        return entry

    def complaint(self) -> None:
        rng = self.rng
        category_id, category_code, dept_code, business = rng.choice(self.categories)
        text, demand = rng.choice(TEXTS[category_code])
        channel = CHANNELS.draw(rng)
        level = LEVELS.draw(rng)
        age_days = 365 * (rng.random() ** 1.4)
        registered_at = self.now - timedelta(days=age_days)
        customer_id, region_id = self.customer()
        agent = self.users["agent"]
        handler = self.handlers.get(dept_code) or self.handlers["customer_service"]
        cid = self.take(Complaint)
        row: dict[str, Any] = {
            "id": cid,
            "ticket_no": None,
            "status": Status.REGISTERED.value,
            "version": 1,
            "channel": channel,
            "external_id": "",
            "customer_id": customer_id,
            "service_number": "",
            "business_type": business,
            "category_id": category_id,
            "level": level,
            "region_id": region_id,
            "description": _fill(text, rng),
            "demand": _fill(demand, rng),
            "preferred_reply_channel": rng.choice(REPLY_CHANNELS).value,
            "threatens_external": rng.random() < 0.04,
            "registered_by_id": agent.pk,
            "first_contact_owner_id": agent.pk,
            "lead_department_id": None,
            "assignee_id": None,
            "escalation_level": 0,
            "reopen_count": 0,
            "is_first_contact_resolution": False,
            "rejection_reason": "",
            "rejection_explanation": "",
            "received_at": registered_at - timedelta(minutes=rng.uniform(0, 3)),
            "registered_at": registered_at,
            "accepted_at": None,
            "replied_at": None,
            "closed_at": None,
            "status_changed_at": registered_at,
            "updated_at": registered_at,
        }
        case = _Case(self, cid, row)
        case.event(
            EventKind.REGISTERED,
            agent,
            to=Status.REGISTERED,
            payload={"channel": channel, "level": level, "category": category_code},
        )
        self._walk(case, agent, handler, dept_code)
        self.batch.complaints.append(row)

    def _walk(self, case: _Case, agent: _Actor, handler: _Actor, dept_code: str) -> None:
        rng, row = self.rng, case.row
        roll = rng.random()
        if roll < 0.04:
            if not case.at(2, 30):
                return
            row["ticket_no"] = self.ticket(case.t)
            reason = rng.choice(REJECTION_REASONS)
            row["rejection_reason"], row["rejection_explanation"], row["closed_at"] = (
                reason.value,
                "已向用户解释并告知其他合法途径。",
                case.t,
            )
            case.event(
                EventKind.REJECTED,
                agent,
                to=Status.REJECTED,
                payload={"ticket_no": row["ticket_no"], "reason": reason.value},
            )
            return
        if not case.at(1, 15):
            return
        row["ticket_no"], row["accepted_at"] = self.ticket(case.t), case.t
        case.event(EventKind.ACCEPTED, agent, to=Status.ACCEPTED, payload={"ticket_no": row["ticket_no"]})
        if roll < 0.28:  # answered at first contact
            if not case.at(1, 10):
                return
            self._reply(case, agent, fcr=True)
            if case.at(1, 5):
                row["closed_at"] = case.t
                case.event(EventKind.CLOSED, agent, to=Status.CLOSED)
            return
        if rng.random() < 0.03:
            if case.at(60, 4000):
                row["closed_at"] = case.t
                case.event(
                    EventKind.WITHDRAWN,
                    agent,
                    to=Status.WITHDRAWN,
                    payload={"reason": "用户表示问题已自行解决，撤销投诉。"},
                )
            return
        if not case.at(5, 60):
            return
        row["lead_department_id"], row["assignee_id"] = self.departments[dept_code], handler.pk
        payload: dict[str, Any] = {
            "lead_department": dept_code,
            "assignee": handler.username,
            "cooperating_departments": [],
        }
        if rng.random() < 0.12:
            coop = "legal" if dept_code != "legal" else "marketing"
            self.batch.coop.append((case.id, self.departments[coop]))
            payload["cooperating_departments"] = [coop]
        case.event(EventKind.DISPATCHED, agent, to=Status.DISPATCHED, payload=payload)
        for _round in range(3):  # at most three handling rounds (reopened twice)
            if not self._handle(case, handler):
                return
            if not case.at(60, 4320):
                return
            visitor = self.users["visitor"]
            if rng.random() < 0.1:
                self._visit(case, visitor, reached=False)
                if not case.at(600, 2880):
                    return
            satisfied = rng.random() < 0.88
            self._visit(case, visitor, reached=True, satisfied=satisfied)
            if satisfied:
                if case.at(1, 120):
                    row["closed_at"] = case.t
                    case.event(EventKind.CLOSED, visitor, to=Status.CLOSED)
                return
            row["reopen_count"] += 1
            case.event(
                EventKind.REOPENED,
                visitor,
                to=Status.REOPENED,
                payload={"reason": "回访不满意", "trigger": "dissatisfied_return_visit"},
            )
            if row["escalation_level"] < 3:
                row["escalation_level"] += 1
                case.event(
                    EventKind.ESCALATED,
                    visitor,
                    payload={
                        "from_level": row["escalation_level"] - 1,
                        "to_level": row["escalation_level"],
                        "trigger": "dissatisfied_return_visit",
                    },
                )

    def _handle(self, case: _Case, handler: _Actor) -> bool:
        """Investigate → (ask the customer) → plan → (remedy approval) → reply. False if time ran out."""
        rng, rows = self.rng, self.batch.rows
        if not case.at(30, 480):
            return False
        case.event(EventKind.STATUS_CHANGED, handler, to=Status.INVESTIGATING)
        if rng.random() < 0.12:
            if not case.at(60, 1440):
                return False
            case.event(
                EventKind.INFO_REQUESTED,
                handler,
                to=Status.AWAITING_CUSTOMER,
                payload={"question": "请配合进行线路测试"},
            )
            if not case.at(60, 4320):
                return False
            case.event(
                EventKind.INFO_RECEIVED, handler, to=Status.INVESTIGATING, payload={"note": "用户已配合测试"}
            )
        if not case.at(120, 4320):
            return False
        plan_id = self.take(ResolutionPlan)
        deadline = case.t + timedelta(days=rng.randint(1, 7))
        kind = rng.choice(RESOLUTION_KINDS).value
        measures = "核实情况后按规定处理并告知用户。"
        # id, complaint_id, kind, measures, responsible_id, deadline, proposed_by_id, created_at
        rows[ResolutionPlan].append(
            (plan_id, case.id, kind, measures, handler.pk, deadline, handler.pk, case.t)
        )
        case.event(
            EventKind.PLAN_PROPOSED,
            handler,
            to=Status.PLAN_PROPOSED,
            payload={"plan_id": plan_id, "kind": kind},
        )
        if rng.random() < 0.3:
            amount = Decimal(rng.choice([10, 20, 30, 50, 80, 120, 200, 300, 600, 1000]))
            remedy_kind = rng.choice(MONEY_REMEDIES).value
            rid = self.take(Remedy)
            requested_at = case.t
            payload = {"remedy_id": rid, "kind": remedy_kind, "amount": str(amount)}
            if amount <= 50:
                decision: tuple[Any, ...] = (
                    "approved",
                    handler.pk,
                    case.t,
                    "within the requester's own limit",
                )
                case.event(EventKind.REMEDY_APPROVED, handler, payload={**payload, "self_approved": True})
            else:
                case.event(EventKind.REMEDY_REQUESTED, handler, to=Status.AWAITING_APPROVAL, payload=payload)
                if not case.at(30, 1440):
                    decision = ("requested", None, None, "")
                else:
                    approver = self.users["supervisor" if amount <= 500 else "manager"]
                    approved = rng.random() < 0.9
                    decision = (
                        "approved" if approved else "refused",
                        approver.pk,
                        case.t,
                        "" if approved else "依据不足",
                    )
                    case.event(
                        EventKind.REMEDY_APPROVED if approved else EventKind.REMEDY_REFUSED,
                        approver,
                        to=Status.PLAN_PROPOSED,
                        payload=payload,
                    )
            status, decided_by, decided_at, note = decision
            # id, complaint_id, kind, amount, description, status, requested_by_id, requested_at,
            # decided_by_id, decided_at, decision_note
            rows[Remedy].append(
                (
                    rid,
                    case.id,
                    remedy_kind,
                    amount,
                    "",
                    status,
                    handler.pk,
                    requested_at,
                    decided_by,
                    decided_at,
                    note,
                )
            )
            if status == "requested":
                return False
        if not case.at(60, 2880):
            return False
        self._reply(case, handler, fcr=False)
        return True

    def _reply(self, case: _Case, actor: _Actor, *, fcr: bool) -> None:
        channel = case.row["preferred_reply_channel"]
        rid = self.take(Reply)
        content = "经核查，已按规定为您处理，感谢您的理解与支持。"
        # id, complaint_id, channel, content, replied_by_id, replied_at
        self.batch.rows[Reply].append((rid, case.id, channel, content, actor.pk, case.t))
        case.row["replied_at"] = case.t
        case.row["is_first_contact_resolution"] = fcr
        case.event(
            EventKind.REPLIED,
            actor,
            to=Status.REPLIED,
            payload={"reply_id": rid, "channel": channel, "first_contact_resolution": fcr},
        )

    def _visit(self, case: _Case, visitor: _Actor, *, reached: bool, satisfied: bool = True) -> None:
        rng = self.rng
        vid = self.take(ReturnVisit)
        score = (rng.choice([4, 5, 5, 5, 3]) if satisfied else rng.choice([1, 2])) if reached else None
        resolved = (satisfied or rng.random() < 0.3) if reached else None
        if reached and satisfied:
            resolved = True
        comment = "" if satisfied else "用户对处理结果不满意"
        # id, complaint_id, reached, resolved, satisfaction, comment, visited_by_id, visited_at
        self.batch.rows[ReturnVisit].append(
            (vid, case.id, reached, resolved, score, comment, visitor.pk, case.t)
        )
        payload = {"return_visit_id": vid, "reached": reached, "resolved": resolved, "satisfaction": score}
        if reached:
            case.event(
                EventKind.RETURN_VISIT,
                visitor,
                to=Status.RETURN_VISIT,
                payload={**payload, "satisfied": satisfied},
            )
        else:
            case.event(EventKind.RETURN_VISIT_UNREACHED, visitor, payload=payload)


def _write(batch: _Batch) -> None:
    """Insert one batch, then move the ticket counters and id sequences past it (same transaction,
    so an interrupted run never leaves rows the live system would collide with)."""
    for model, rows in batch.rows.items():
        if not rows:
            continue
        columns, extra = _layout(model)
        if model is Complaint:
            keys = COLUMNS[Complaint]
            rows = [[*(row[c] for c in keys), *extra] for row in rows]
        elif extra:
            rows = [(*row, *extra) for row in rows]
        bulk_insert_rows(model, columns, rows)
    if batch.coop:
        through = Complaint.cooperating_departments.through
        bulk_insert_rows(through, ["complaint_id", "department_id"], batch.coop)
    if batch.counters:
        TicketCounter.objects.bulk_create(
            [
                TicketCounter(day=datetime.strptime(day, "%Y%m%d").date(), last=last)  # noqa: DTZ007 - a day
                for day, last in batch.counters.items()
            ],
            update_conflicts=True,
            unique_fields=["day"],
            update_fields=["last"],
        )
    for model in ORDER:
        if batch.rows[model]:
            reset_sequence(model)


def _write_committed(batch: _Batch) -> None:
    with transaction.atomic():
        _write(batch)


def _close_thread_connections() -> None:
    connections.close_all()


def seed_complaints(
    count: int, *, seed: int = 20261123, chunk: int = 20_000, progress: Callable[[str], Any] | None = None
) -> dict[str, int]:
    """Simulate and insert ``count`` complaints over the past 12 months. Returns row counts.

    Each chunk is written and committed on its own, with the ticket counters and id sequences it
    moved. On PostgreSQL, outside a transaction, a chunk is written by a second thread (its own
    connection) while the next one is simulated: the database's work (indexes, foreign-key checks)
    and Python's then overlap. Inside a transaction (tests) everything runs on the caller's connection.
    """
    sim = _Simulator(seed=seed, now=timezone.now())
    if not sim.ready:
        seed_reference()
        sim = _Simulator(seed=seed, now=timezone.now())
    overlap = is_postgres() and not connection.in_atomic_block and count > chunk
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-writer") if overlap else None
    pending: Future[None] | None = None
    done = 0
    try:
        while done < count:
            size = min(chunk, count - done)
            for _ in range(size):
                sim.complaint()
            batch = sim.take_batch()
            if pending is not None:
                pending.result()  # the previous chunks are committed (or the error is raised here)
                if progress:
                    progress(f"  {done:,}/{count:,} complaints")
            if pool is not None:
                pending = pool.submit(_write_committed, batch)
            else:
                _write_committed(batch)
                if progress and count > chunk:
                    progress(f"  {done + size:,}/{count:,} complaints")
            done += size
        if pending is not None:
            pending.result()
            if progress:
                progress(f"  {done:,}/{count:,} complaints")
    finally:
        if pool is not None:
            pool.submit(_close_thread_connections)
            pool.shutdown(wait=True)
    if is_postgres() and count:
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in ORDER)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")
    return sim.counts
