"""Message texts per template and language. ``{name}`` fields come from the event and the case."""

from __future__ import annotations

from typing import Final

SIGNATURE = {"zh-hans": "【Tousu 客服】", "en": "[Tousu customer service] "}

MESSAGES: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "ack": {
        "zh-hans": (
            "您的投诉已受理",
            "您的投诉已受理，受理编号 {ticket_no}。我们将尽快处理，并在15日内答复您。",
        ),
        "en": (
            "Your complaint has been accepted",
            "Your complaint has been accepted under ticket number {ticket_no}. We will reply within 15 days.",
        ),
    },
    "rejected": {
        "zh-hans": (
            "关于您的投诉",
            "您的投诉（编号 {ticket_no}）不予受理：{reason}。{explanation} 如有异议，您可向通信管理局申诉。",
        ),
        "en": (
            "About your complaint",
            "Your complaint ({ticket_no}) cannot be accepted: {reason}. {explanation} "
            "You may appeal to the communications regulator.",
        ),
    },
    "info_request": {
        "zh-hans": ("需要您补充信息", "关于投诉 {ticket_no}，我们需要您补充：{question}"),
        "en": ("We need some information", "About complaint {ticket_no}, we need: {question}"),
    },
    "reply": {
        "zh-hans": ("投诉处理答复", "关于投诉 {ticket_no}：{content}"),
        "en": ("Our reply to your complaint", "About complaint {ticket_no}: {content}"),
    },
    # A message an agent writes from the case page's composer (tousu.knowledge), not the formal reply.
    "message": {
        "zh-hans": ("关于您的投诉", "关于投诉 {ticket_no}：{content}"),
        "en": ("About your complaint", "About complaint {ticket_no}: {content}"),
    },
    "progress_dispatched": {
        "zh-hans": (
            "您的投诉正在处理",
            "您的投诉 {ticket_no} 已转交专业部门处理，我们会尽快答复您。",
        ),
        "en": (
            "Your complaint is being handled",
            "Your complaint {ticket_no} is now with the department that handles it. We will reply soon.",
        ),
    },
    "progress_reopened": {
        "zh-hans": ("您的投诉已重新处理", "您的投诉 {ticket_no} 已重新开始处理，我们会尽快与您联系。"),
        "en": (
            "Your complaint has been reopened",
            "Your complaint {ticket_no} has been reopened. We will contact you soon.",
        ),
    },
    "survey": {
        "zh-hans": (
            "请评价我们的处理",
            "关于投诉 {ticket_no}，请花一分钟评价我们的处理：{survey_url}",
        ),
        "en": (
            "How did we do?",
            "About complaint {ticket_no}, please take a minute to rate how we handled it: {survey_url}",
        ),
    },
    "withdrawn": {
        "zh-hans": ("投诉已撤销", "您的投诉 {ticket_no} 已按您的要求撤销。"),
        "en": ("Complaint withdrawn", "Your complaint {ticket_no} has been withdrawn as you asked."),
    },
    "staff_dispatched": {
        "zh-hans": ("新派单 {ticket_no}", "投诉 {ticket_no}（{level}）已派至{department}，请及时处理。"),
        "en": ("New case {ticket_no}", "Case {ticket_no} ({level}) was dispatched to {department}."),
    },
    "staff_assigned": {
        "zh-hans": ("分配给您 {ticket_no}", "投诉 {ticket_no}（{level}）已分配给您。"),
        "en": ("Assigned to you: {ticket_no}", "Case {ticket_no} ({level}) is now yours."),
    },
    "staff_approval": {
        "zh-hans": ("待审批补偿 {ticket_no}", "投诉 {ticket_no} 申请{kind} {amount} 元，需要您审批。"),
        "en": (
            "Approval needed: {ticket_no}",
            "Case {ticket_no} requests {kind} of {amount} yuan and needs your approval.",
        ),
    },
    "staff_escalated": {
        "zh-hans": ("投诉升级 {ticket_no}", "投诉 {ticket_no} 已升级至第 {to_level} 级：{reason}"),
        "en": ("Escalated: {ticket_no}", "Case {ticket_no} was escalated to level {to_level}: {reason}"),
    },
    "staff_reopened": {
        "zh-hans": ("投诉重开 {ticket_no}", "投诉 {ticket_no} 已重开：{reason}"),
        "en": ("Reopened: {ticket_no}", "Case {ticket_no} was reopened: {reason}"),
    },
    "staff_sla_warning": {
        "zh-hans": (
            "即将超时 {ticket_no}",
            "投诉 {ticket_no} 的“{clock}”时限将于 {due_at} 到期，请尽快处理。",
        ),
        "en": ("Deadline approaching: {ticket_no}", "Case {ticket_no}: '{clock}' is due at {due_at}."),
    },
    "staff_sla_breached": {
        "zh-hans": (
            "已超时 {ticket_no}",
            "投诉 {ticket_no} 的“{clock}”时限已于 {due_at} 超时，考核 {penalty} 元。",
        ),
        "en": (
            "Deadline missed: {ticket_no}",
            "Case {ticket_no}: '{clock}' was due at {due_at}; penalty {penalty} yuan.",
        ),
    },
}


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, language: str, values: dict[str, object]) -> tuple[str, str]:
    """Subject and body of ``template`` in ``language`` (falling back to Chinese). Messages to
    customers carry the signature an SMS needs; staff inbox items (``staff_*``) do not."""
    by_language = MESSAGES[template]
    subject, body = by_language.get(language) or by_language["zh-hans"]
    fields = _Missing({k: str(v) for k, v in values.items() if v is not None})
    signature = "" if template.startswith("staff_") else SIGNATURE.get(language, "")
    return subject.format_map(fields), signature + body.format_map(fields)
