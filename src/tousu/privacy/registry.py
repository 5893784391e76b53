"""The inventory of personal data (PIPL): every model field and file that can hold it, and what
happens to it when its retention ends or its customer asks to be forgotten.

One entry per place. ``tests/test_privacy_registry.py`` walks every model: a text, e-mail, JSON or
file field that is neither here nor in ``NOT_PERSONAL`` fails the build, so a new field must be
classified before it ships. ``privacy.erasure`` handles every model named here (tested too).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Action(StrEnum):
    """What erasure (or the end of retention) does to the value."""

    DELETE = "delete"  # the row (or file) goes
    ANONYMISE = "anonymise"  # cleared, or the customer's identifiers cut out of free text
    HASH = "hash"  # replaced by a keyed hash: still matches, no longer readable
    KEEP = "keep"  # kept by law or as an employment record (staff), masked everywhere


class Kind(StrEnum):
    """The data kinds that retention is configured by (``TOUSU_RETENTION_*``)."""

    IDENTITY = "identity"  # name, phone, ID number, e-mail, WeChat id of a customer
    CONTACT = "contact"  # an address a message went to or came from
    FREE_TEXT = "free_text"  # what people typed: descriptions, notes, replies
    ATTACHMENT = "attachment"  # evidence files
    NOTIFICATION = "notification"  # message bodies and their delivery records
    INBOUND_EMAIL = "inbound_email"  # what the e-mail intake kept of a message
    ACCESS_LOG = "access_log"  # who read or revealed what (audit)
    STAFF = "staff"  # employees' own accounts


@dataclass(frozen=True)
class Place:
    """One model field (``"app.Model.field"``) or file that can hold personal data."""

    where: str
    kind: Kind
    action: Action
    note: str = ""

    @property
    def model(self) -> str:
        return self.where.rsplit(".", 1)[0]

    @property
    def field(self) -> str:
        return self.where.rsplit(".", 1)[1]


A, K = Action, Kind

REGISTRY: Final[tuple[Place, ...]] = (
    # customers: the identity itself
    Place("customers.Customer.name", K.IDENTITY, A.ANONYMISE),
    Place("customers.Customer.phone", K.IDENTITY, A.ANONYMISE),
    Place("customers.Customer.email", K.IDENTITY, A.ANONYMISE),
    Place("customers.Customer.wechat_id", K.IDENTITY, A.ANONYMISE),
    Place("customers.Customer.id_number", K.IDENTITY, A.ANONYMISE),
    Place("customers.Customer.blacklist_reason", K.FREE_TEXT, A.ANONYMISE),
    Place("customers.CustomerIdentity.value", K.IDENTITY, A.DELETE),
    Place("notifications.CustomerLanguage.language", K.IDENTITY, A.DELETE, "a preference, with the row"),
    # the case: contact details and what people typed
    Place("complaints.Complaint.service_number", K.IDENTITY, A.ANONYMISE),
    Place("complaints.Complaint.contact_email", K.CONTACT, A.ANONYMISE),
    Place("complaints.Complaint.description", K.FREE_TEXT, A.ANONYMISE, "identifiers cut out"),
    Place("complaints.Complaint.demand", K.FREE_TEXT, A.ANONYMISE, "identifiers cut out"),
    Place("complaints.Complaint.rejection_explanation", K.FREE_TEXT, A.ANONYMISE),
    Place("complaints.Complaint.external_id", K.CONTACT, A.KEEP, "the channel's reference, no identity"),
    Place("complaints.ComplaintEvent.payload", K.FREE_TEXT, A.ANONYMISE, "notes, messages, amended text"),
    Place("complaints.ResolutionPlan.measures", K.FREE_TEXT, A.ANONYMISE),
    Place("complaints.Remedy.description", K.FREE_TEXT, A.ANONYMISE),
    Place("complaints.Remedy.decision_note", K.FREE_TEXT, A.ANONYMISE),
    Place("complaints.Reply.content", K.FREE_TEXT, A.ANONYMISE),
    Place(
        "knowledge.CustomerMessage.text",
        K.FREE_TEXT,
        A.ANONYMISE,
        "messages to the customer from the composer",
    ),
    Place("complaints.ReturnVisit.comment", K.FREE_TEXT, A.ANONYMISE),
    Place("complaints.Attachment.file", K.ATTACHMENT, A.DELETE, "the file under MEDIA_ROOT too"),
    Place("complaints.Attachment.original_name", K.ATTACHMENT, A.DELETE),
    Place("api.TicketAttributes.name", K.FREE_TEXT, A.ANONYMISE),
    Place("api.TicketAttributes.related_party", K.IDENTITY, A.ANONYMISE, "TMF621 contacts"),
    Place("api.TicketAttributes.related_entity", K.FREE_TEXT, A.ANONYMISE),
    Place("api.TicketAttributes.characteristic", K.FREE_TEXT, A.ANONYMISE),
    Place("api.TicketAttributes.external_identifier", K.FREE_TEXT, A.ANONYMISE),
    Place("api.TicketAttributes.attachment_refs", K.ATTACHMENT, A.ANONYMISE),
    Place("api.TicketAttributes.channel", K.CONTACT, A.ANONYMISE),
    Place("api.TicketAttributes.relationship", K.FREE_TEXT, A.KEEP, "links between tickets only"),
    Place("triage.Classification.explanation", K.FREE_TEXT, A.ANONYMISE, "words of the description"),
    # portal, notifications, e-mail intake
    Place("portal.TrackingCode.phone", K.CONTACT, A.DELETE),
    Place("notifications.Notification.address", K.CONTACT, A.ANONYMISE),
    Place("notifications.Notification.subject", K.NOTIFICATION, A.ANONYMISE),
    Place("notifications.Notification.body", K.NOTIFICATION, A.ANONYMISE),
    Place("notifications.Notification.key", K.CONTACT, A.HASH, "ends with the recipient"),
    Place("notifications.Notification.last_error", K.NOTIFICATION, A.ANONYMISE),
    Place("notifications.DeliveryAttempt.error", K.NOTIFICATION, A.ANONYMISE),
    Place("notifications.DeliveryAttempt.response", K.NOTIFICATION, A.ANONYMISE),
    Place("channels.InboundEmail.from_address", K.INBOUND_EMAIL, A.HASH),
    Place("channels.InboundEmail.subject", K.INBOUND_EMAIL, A.ANONYMISE),
    Place("channels.InboundEmail.reason", K.INBOUND_EMAIL, A.ANONYMISE),
    Place("channels.InboundEmail.message_id", K.INBOUND_EMAIL, A.KEEP, "may hold a domain, no person"),
    # the access log: kept (≥ 6 months), written without identifiers in clear
    Place("audit.AuditEvent.payload", K.ACCESS_LOG, A.KEEP, "identities as keyed hashes only"),
    Place("audit.AuditEvent.ip", K.ACCESS_LOG, A.KEEP, "the staff member's address"),
    Place("audit.AuditEvent.user_agent", K.ACCESS_LOG, A.KEEP),
    Place("audit.AuditEvent.actor_label", K.ACCESS_LOG, A.KEEP),
    # staff accounts: employment records, not customers' data
    Place("accounts.User.username", K.STAFF, A.KEEP),
    Place("accounts.User.first_name", K.STAFF, A.KEEP),
    Place("accounts.User.last_name", K.STAFF, A.KEEP),
    Place("accounts.User.email", K.STAFF, A.KEEP),
    Place("accounts.User.display_name", K.STAFF, A.KEEP),
)

# Files (not model fields) that can hold personal data, relative to the settings that name them.
FILES: Final[tuple[Place, ...]] = (
    Place("settings.TOUSU_NOTIFY_FILE", K.NOTIFICATION, A.ANONYMISE, "development outbox log, rewritten"),
    Place("settings.MEDIA_ROOT.evidence", K.ATTACHMENT, A.DELETE, "attachment files"),
    Place("settings.DATABASES.sqlite", K.IDENTITY, A.DELETE, "free pages and WAL: secure_delete, VACUUM"),
)

# Text, JSON and file fields that cannot hold personal data, and why (reviewed, not defaulted).
NOT_PERSONAL: Final[dict[str, str]] = {
    **{
        f"{model}.{field}": "configuration, codes, counters or machine identifiers"
        for model, fields in {
            "analytics.SliceRollup": ("dimension", "grain", "value"),
            "common.UsedFormToken": ("result_url", "token"),
            "complaints.CategorySynonym": ("word",),
            "complaints.ComplaintEvent": ("request_id",),
            "complaints.SavedView": ("name", "query", "queue", "updated_via"),
            "knowledge.Article": ("external_ref", "title"),
            "knowledge.ArticleVersion": ("body", "decision_note", "tags", "title"),
            "knowledge.CustomerMessage": ("channel", "via"),
            "knowledge.ReplyTemplate": ("body", "code", "situation", "title"),
            "knowledge.SearchToken": ("token",),
            "knowledge.Synonym": ("words",),
            "notifications.Notification": ("attachment_name", "attachment_type"),
            "ops.WorkerHeartbeat": ("kinds", "last_seconds", "name"),
            "quality.Pick": ("reasons",),
            "quality.QualityEvent": ("actor_label", "via"),
            "quality.SamplingRules": ("seed",),
            "quality.SamplingRun": ("seed", "via"),
            "quality.Scorecard": ("code", "name"),
            "quality.ScorecardVersion": ("criteria",),
            "quality.Inspection": ("answers", "fatal_failed"),
        }.items()
        for field in fields
    },
    # Staff's assessment of an agent's work: about the agent, not the customer; kept as the
    # appraisal record (the inspection form asks for no customer identifiers).
    "quality.Inspection.comments": "staff appraisal text",
    "quality.Appeal.reason": "staff appraisal text",
    "quality.Appeal.decision_note": "staff appraisal text",
    "quality.QualityEvent.payload": "scores and appraisal text",
    **{
        f"{model}.{field}": "configuration or codes"
        for model, fields in {
            "accounts.Department": ("code", "name", "name_en"),
            "accounts.Region": ("code", "name"),
            "complaints.Category": ("code", "name", "name_en"),
            "sla.BusinessCalendar": ("name", "time_zone", "windows"),
            "sla.CalendarDay": ("note",),
            "sla.SlaPolicy": ("name", "match_levels", "match_channels", "start_on", "stop_on", "pause_in"),
            "api.ApiKey": ("name", "prefix", "key_hash"),
            "api.HubSubscription": ("query",),
            "api.SeverityMapping": ("value",),
            "api.TicketTypeMapping": ("value",),
            "api.TicketAttributes": ("severity", "ticket_type", "priority"),
            "notifications.WebhookEndpoint": ("url", "secret", "label"),
            "notifications.Notification": ("template", "language", "secret_seed"),
            "channels.MailboxState": ("mailbox", "last_error"),
            "channels.InboundEmail": ("mailbox",),
            "triage.ModelVersion": ("version", "file", "scores", "baseline_scores"),
            "triage.Classification": (
                "model_version",
                "category",
                "subcategory",
                "level",
                "chosen_category",
                "chosen_level",
            ),
            "triage.EventCursor": ("consumer",),
            "triage.Incident": ("category", "level", "title"),
            "analytics.CaseFact": ("channel", "level", "business_type"),
            "analytics.DailyRollup": ("channel", "level", "business_type"),
            "analytics.EventCursor": ("consumer", "gaps"),
            "privacy.ErasureRecord": ("subject_digest", "customer_ids", "counts"),
            "privacy.RetentionMark": ("kind",),
        }.items()
        for field in fields
    },
    "accounts.User.password": "a password hash",
    "privacy.ErasureRecord.reason": "stored through mask_text",
    "audit.AuditEvent.object_type": "a model name",
    "audit.AuditEvent.row_hash": "the hash chain",
    "audit.AuditChainHead.row_hash": "the hash chain",
    "audit.AuditEvent.object_id": "a row id",
    "audit.AuditEvent.field": "a field name",
    "audit.AuditEvent.via": "a channel or API key name",
    "complaints.Complaint.ticket_no": "the case number",
    "complaints.ComplaintEvent.actor_label": "a staff username or channel",
    "complaints.ComplaintEvent.via": "a channel",
    "complaints.ComplaintEvent.from_status": "a status",
    "complaints.ComplaintEvent.to_status": "a status",
    "complaints.Attachment.content_type": "a MIME type",
    "complaints.Attachment.sha256": "a digest of the file",
    "portal.TrackingCode.code_hash": "a keyed hash",
    "portal.TrackingCode.binding_hash": "a keyed hash",
}


def places_of(model_label: str) -> list[Place]:
    return [p for p in REGISTRY if p.model == model_label]
