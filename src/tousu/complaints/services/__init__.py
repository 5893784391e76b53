"""The one write path for cases. Pages, the API, bulk actions, commands and the worker call these.

Each public service is one transaction: it locks the case row, checks the actor (``access.py``),
the lifecycle table (``states.py``) and the guards of the step, saves with ``update_fields``,
writes an append-only ``ComplaintEvent`` and schedules side effects after commit. A refused call
raises a typed error (``tousu.common.errors``) and leaves the database as it was."""

from tousu.complaints.services._base import OUTBOX_CHANNEL, complaint_events_record
from tousu.complaints.services.closing import (
    complaint_close,
    complaint_reopen,
    complaint_reply,
    complaint_withdraw,
    return_visit_record,
)
from tousu.complaints.services.details import (
    TO_CLASSIFY,
    category_to_classify,
    complaint_amend_description,
    complaint_customer_notes,
    complaint_link_customer,
    complaint_record_channel_update,
)
from tousu.complaints.services.escalation import (
    complaint_change_level,
    complaint_escalate,
    complaint_flag_threat,
    complaint_reclassify,
    complaints_escalate_locked,
)
from tousu.complaints.services.handling import (
    attachment_add,
    attachments_add_with_case,
    complaint_customer_answer,
    complaint_investigate,
    complaint_note,
    complaint_propose_plan,
    complaint_request_info,
)
from tousu.complaints.services.intake import complaint_accept, complaint_register, complaint_reject
from tousu.complaints.services.personal import complaint_reveal, customer_merge
from tousu.complaints.services.remedies import remedy_decide, remedy_request
from tousu.complaints.services.routing import complaint_assign, complaint_dispatch
from tousu.complaints.services.transition import complaint_transition

__all__ = [
    "OUTBOX_CHANNEL",
    "TO_CLASSIFY",
    "attachment_add",
    "attachments_add_with_case",
    "category_to_classify",
    "complaint_accept",
    "complaint_amend_description",
    "complaint_assign",
    "complaint_change_level",
    "complaint_close",
    "complaint_customer_answer",
    "complaint_customer_notes",
    "complaint_dispatch",
    "complaint_escalate",
    "complaint_events_record",
    "complaint_flag_threat",
    "complaint_investigate",
    "complaint_link_customer",
    "complaint_note",
    "complaint_propose_plan",
    "complaint_reclassify",
    "complaint_record_channel_update",
    "complaint_register",
    "complaint_reject",
    "complaint_reopen",
    "complaint_reply",
    "complaint_request_info",
    "complaint_reveal",
    "complaint_transition",
    "complaint_withdraw",
    "complaints_escalate_locked",
    "customer_merge",
    "remedy_decide",
    "remedy_request",
    "return_visit_record",
]
