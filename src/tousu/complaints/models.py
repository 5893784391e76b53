from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tousu.accounts.models import Department, Region
from tousu.common.masking import mask_account
from tousu.common.names import in_active_language
from tousu.complaints.choices import (
    BusinessType,
    Channel,
    Level,
    RegulatorGroup,
    RejectionReason,
    RemedyKind,
    RemedyStatus,
    ReplyChannel,
    ResolutionKind,
)
from tousu.complaints.events import EventKind
from tousu.complaints.states import MAX_ESCALATION_LEVEL, OPEN, TMF_STATUS, EscalationLevel, Status
from tousu.customers.models import Customer

USER = settings.AUTH_USER_MODEL


class Category(models.Model):
    """One node of the two-level complaint classification (e.g. 资费类 › 错收)."""

    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    regulator_group = models.CharField(
        _("regulator group"), max_length=30, choices=RegulatorGroup.choices, default=RegulatorGroup.SERVICE
    )
    default_department = models.ForeignKey(
        Department, verbose_name=_("default department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        if self.parent_id is not None and self.parent is not None:
            return f"{self.parent.label} › {self.label}"
        return self.label

    @property
    def label(self) -> str:
        """The name in the active language (the English name in the English UI, when set)."""
        return in_active_language(self.name, self.name_en)


class CategorySynonym(models.Model):
    """One word people use for a leaf category without naming it (扣费 → 错收, 高额账单): the
    registration page's category picker finds the category by it. Data that admins edit (audited);
    the demo seeds a starter set (``tousu.ops.seed.CATEGORY_SYNONYMS``)."""

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="synonyms"
    )
    word = models.CharField(_("word"), max_length=50)

    class Meta:
        ordering = ["word", "category_id"]
        verbose_name = _("category synonym")
        verbose_name_plural = _("category synonyms")
        constraints = [
            models.UniqueConstraint(fields=["category", "word"], name="category_synonym_unique_word"),
        ]

    def __str__(self) -> str:
        return f"{self.word} → {self.category}"


class TicketCounter(models.Model):
    """The last ticket number issued on one day (Asia/Shanghai date)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("ticket counter")

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class Complaint(models.Model):
    """One complaint case, from registration to closing, whatever channel it came through.

    Status, assignee, escalation level and every other lifecycle field are written only by
    ``tousu.complaints.services``.
    """

    # Not a column: ``complaint_register`` sets it on the case it returns when the channel had sent
    # this message (``external_id``) before, so a caller can answer "already registered".
    registered_before: bool = False
    # Not a column either: the SLA clocks ``complaint_register`` started for the case it has just
    # written (in memory, ordered as written), so a caller can show them without reading them back.
    started_clocks: list[Any] | None = None

    ticket_no = models.CharField(_("ticket number"), max_length=20, unique=True, null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.REGISTERED)
    version = models.PositiveIntegerField(_("version"), default=1)

    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    # Empty while the customer is still to be identified (a TMF621 ticket sent without a contact):
    # the "customer to identify" queue lists those cases; ``complaint_link_customer`` fills it.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints",
        db_index=False,  # complaint_customer_idx leads with it
    )
    service_number = models.CharField(_("service number"), max_length=40, blank=True)
    business_type = models.CharField(_("business type"), max_length=20, choices=BusinessType.choices)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="+"
    )
    level = models.CharField(_("level"), max_length=20, choices=Level.choices, default=Level.DISSATISFIED)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT
    )
    description = models.TextField(_("description"))
    demand = models.TextField(_("demand"), blank=True)
    # The e-mail address given with this complaint: replies about this case go there. For the
    # portal's unverified filings it is the only place the address is kept (not the customer's).
    contact_email = models.EmailField(_("contact e-mail"), max_length=254, blank=True, default="")
    preferred_reply_channel = models.CharField(
        _("preferred reply channel"), max_length=20, choices=ReplyChannel.choices, default=ReplyChannel.PHONE
    )
    threatens_external = models.BooleanField(_("threatens regulator, media or court"), default=False)

    registered_by = models.ForeignKey(
        USER,
        verbose_name=_("registered by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # complaint_registered_by_idx leads with it
    )
    first_contact_owner = models.ForeignKey(
        USER,
        verbose_name=_("first-contact owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    lead_department = models.ForeignKey(
        Department,
        verbose_name=_("lead department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # complaint_lead_dept_idx leads with it
    )
    cooperating_departments = models.ManyToManyField(
        Department, verbose_name=_("cooperating departments"), blank=True, related_name="+"
    )
    assignee = models.ForeignKey(
        USER,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # complaint_assignee_idx leads with it
    )
    escalation_level = models.PositiveSmallIntegerField(
        _("escalation level"), choices=EscalationLevel.choices, default=EscalationLevel.NONE
    )
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    is_first_contact_resolution = models.BooleanField(_("resolved at first contact"), default=False)
    rejection_reason = models.CharField(
        _("rejection reason"), max_length=30, choices=RejectionReason.choices, blank=True
    )
    rejection_explanation = models.TextField(_("explanation given"), blank=True)

    received_at = models.DateTimeField(_("received"))
    registered_at = models.DateTimeField(_("registered"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    next_due_at = models.DateTimeField(
        _("next deadline"),
        null=True,
        blank=True,
        help_text=_(
            "The earliest due time the case still owes: of its running SLA clocks, or of a missed one not met yet."
        ),
    )
    status_changed_at = models.DateTimeField(_("status changed"))
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="complaint_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=[c.value for c in Channel]), name="complaint_channel_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(level__in=[c.value for c in Level]), name="complaint_level_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(escalation_level__lte=MAX_ESCALATION_LEVEL),
                name="complaint_escalation_level_valid",
            ),
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="complaint_unique_external_id",
            ),
        ]
        # The queues read cases nearest deadline first (``next_due_at``, NULLs last as PostgreSQL
        # sorts them in an ascending index, then ``registered_at``, ``id``): each queue walks one of
        # the three indexes in that order and stops after a page. The foreign keys that lead a
        # composite index here have no index of their own (``db_index=False``): it would be
        # redundant, and each index is paid for on every write. The word search of descriptions
        # has a PostgreSQL-only GIN index (migration 0004; see ``tousu.complaints.search``).
        indexes = [
            # "Awaiting customer" and the status filter: one status, nearest deadline first.
            models.Index(
                fields=["status", "next_due_at", "registered_at", "id"], name="complaint_status_due_idx"
            ),
            # The queues of open cases (mine, department, unassigned, due soon, overdue, escalated).
            models.Index(
                fields=["next_due_at", "registered_at", "id"],
                condition=models.Q(status__in=sorted(OPEN)),
                name="complaint_open_due_idx",
            ),
            # "All cases".
            models.Index(fields=["next_due_at", "registered_at", "id"], name="complaint_next_due_idx"),
            models.Index(fields=["assignee", "status"], name="complaint_assignee_idx"),
            models.Index(fields=["lead_department", "status"], name="complaint_lead_dept_idx"),
            models.Index(fields=["customer", "registered_at"], name="complaint_customer_idx"),
            models.Index(fields=["registered_by", "status"], name="complaint_registered_by_idx"),
            models.Index(fields=["registered_at"], name="complaint_registered_at_idx"),
            # Search by phone number: the service number as typed at registration.
            models.Index(
                fields=["service_number"],
                condition=~models.Q(service_number=""),
                name="complaint_service_number_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.ticket_no or f"#{self.pk}"

    @property
    def tmf_status(self) -> str:
        return TMF_STATUS[Status(self.status)].value

    @property
    def masked_service_number(self) -> str:
        return mask_account(self.service_number)


class ComplaintEvent(models.Model):
    """One thing that happened to a case: the timeline, the audit trail, the notification outbox
    and the source of analytics. Append-only; only ``pending_dispatch`` is cleared by the worker
    once notifications for it exist."""

    # No index of its own: event_complaint_idx (complaint, created_at) serves every lookup by case,
    # and one index fewer is one page fewer written per event.
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events", db_index=False)
    created_at = models.DateTimeField(_("time"))
    kind = models.CharField(_("kind"), max_length=30, choices=EventKind.choices)
    # Not indexed: nothing looks events up by actor (users are deactivated, not deleted).
    actor = models.ForeignKey(
        USER,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(_("actor label"), max_length=150, blank=True)
    # Where the change came from: ``web``, ``api:<key name>``, ``portal``, ``email``, ``regulator``,
    # ``worker``, ``command`` (``tousu.common.origin.Origin.via``).
    via = models.CharField(_("via"), max_length=120, blank=True, default="")
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20, blank=True)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    pending_dispatch = models.BooleanField(_("notifications pending"), default=False)
    # The web request that wrote the event (X-Request-ID), so the worker's log lines about it can be
    # found beside the request's. Null for events written outside a request. (Nullable, not
    # default "": adding it is a plain ADD COLUMN on SQLite too, which keeps the append-only triggers.)
    request_id = models.CharField(  # noqa: DJ001 (see above)
        _("request id"), max_length=64, null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        indexes = [
            models.Index(fields=["complaint", "created_at"], name="event_complaint_idx"),
            models.Index(fields=["kind", "created_at"], name="event_kind_idx"),
            models.Index(
                fields=["id"], condition=models.Q(pending_dispatch=True), name="event_pending_dispatch_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind}"


def _attachment_path(instance: Attachment, filename: str) -> str:
    return f"evidence/{instance.complaint_id}/{instance.sha256[:16]}-{filename[-80:]}"


class Attachment(models.Model):
    """One evidence file attached to a case (screenshot, bill, recording, letter)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=300)
    original_name = models.CharField(_("name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("uploaded"))

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name


class ResolutionPlan(models.Model):
    """One proposed way to resolve a case. A reworked plan is a new row; the latest one counts."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="plans")
    kind = models.CharField(_("resolution kind"), max_length=20, choices=ResolutionKind.choices)
    measures = models.TextField(_("measures"))
    responsible = models.ForeignKey(
        USER, verbose_name=_("responsible person"), on_delete=models.PROTECT, related_name="+"
    )
    deadline = models.DateTimeField(_("deadline"))
    proposed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("proposed"))

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("resolution plan")
        verbose_name_plural = _("resolution plans")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.measures[:40]}"


class Remedy(models.Model):
    """One remedy offered to the customer. Money remedies above the requester's limit wait for
    an approver whose limit covers the amount."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="remedies")
    kind = models.CharField(_("kind"), max_length=20, choices=RemedyKind.choices)
    amount = models.DecimalField(_("amount (元)"), max_digits=12, decimal_places=2, default=0)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=RemedyStatus.choices)
    requested_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("requested"))
    decided_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        verbose_name = _("remedy")
        verbose_name_plural = _("remedies")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="remedy_amount_not_negative"),
            models.CheckConstraint(
                condition=models.Q(status__in=RemedyStatus.values), name="remedy_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class Reply(models.Model):
    """One answer given to the customer: conclusion, basis, plan, by the channel they chose."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="replies")
    channel = models.CharField(_("channel"), max_length=20, choices=ReplyChannel.choices)
    content = models.TextField(_("content"))
    replied_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    replied_at = models.DateTimeField(_("replied"))

    class Meta:
        ordering = ["replied_at", "id"]
        verbose_name = _("reply")
        verbose_name_plural = _("replies")

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.replied_at:%Y-%m-%d}"


class ReturnVisit(models.Model):
    """One attempt to ask the customer, after the reply, whether the problem is really solved."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="return_visits")
    reached = models.BooleanField(_("customer reached"))
    resolved = models.BooleanField(_("problem resolved"), null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    visited_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    visited_at = models.DateTimeField(_("visited"))

    class Meta:
        ordering = ["visited_at", "id"]
        verbose_name = _("return visit")
        verbose_name_plural = _("return visits")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(satisfaction__isnull=True)
                | models.Q(satisfaction__gte=1, satisfaction__lte=5),
                name="return_visit_satisfaction_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.visited_at:%Y-%m-%d} {self.satisfaction or '—'}"

    @property
    def satisfied(self) -> bool:
        return bool(self.reached and self.resolved and (self.satisfaction or 0) >= 3)


class SavedView(models.Model):
    """One saved way of reading a queue: a name, the queue, and its filters and order (the queue
    page's query string). The owner's own, or shared with a team (``department``): then everyone
    of that department sees it beside the queues; only the owner, or a supervisor of the team,
    changes it (``tousu.complaints.services.saved_views``)."""

    owner = models.ForeignKey(USER, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=60)
    queue = models.CharField(_("queue"), max_length=40)
    query = models.CharField(_("filters and order"), max_length=500, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("shared with"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated"))
    updated_by = models.ForeignKey(
        USER, verbose_name=_("updated by"), on_delete=models.PROTECT, related_name="+"
    )
    updated_via = models.CharField(_("updated through"), max_length=60)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_view_unique_name_per_owner"),
        ]
        indexes = [models.Index(fields=["department", "name"], name="saved_view_department_idx")]

    def __str__(self) -> str:
        return self.name
