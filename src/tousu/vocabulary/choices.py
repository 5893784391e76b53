"""Fixed vocabularies of the case. Labels are translated; values are stable API strings."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    HOTLINE = "hotline", _("Hotline")
    ONLINE_CHAT = "online_chat", _("Online chat")
    WEB = "web", _("Website")
    APP = "app", _("Mobile app")
    WECHAT = "wechat", _("WeChat")
    SOCIAL_MEDIA = "social_media", _("Social media")
    EMAIL = "email", _("E-mail")
    LETTER = "letter", _("Letter")
    STORE = "store", _("Retail store")
    REGULATOR = "regulator", _("Regulator referral")


class BusinessType(models.TextChoices):
    MOBILE = "mobile", _("Mobile")
    FIXED_LINE = "fixed_line", _("Fixed line")
    BROADBAND = "broadband", _("Broadband")
    DATA = "data", _("Mobile data")
    VALUE_ADDED = "value_added", _("Value-added service")
    IPTV = "iptv", _("IPTV")
    OTHER = "other", _("Other")


class Level(models.TextChoices):
    """Operator-internal complaint levels, mildest first."""

    DISSATISFIED = "dissatisfied", _("Dissatisfied")
    VERY_DISSATISFIED = "very_dissatisfied", _("Very dissatisfied")
    MAJOR = "major", _("Major complaint")
    CRISIS = "crisis", _("Crisis")


class ReplyChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    LETTER = "letter", _("Letter")
    IN_PERSON = "in_person", _("In person")
    WECHAT = "wechat", _("WeChat")
    APP = "app", _("App message")


class RejectionReason(models.TextChoices):
    OUTSIDE_RESPONSIBILITY = "outside_responsibility", _("Outside the operator's responsibility")
    TIME_BARRED = "time_barred", _("Past the time limit for complaints")
    REPEATED_WITHOUT_NEW_GROUNDS = "repeated", _("Repeated without new grounds; a conclusion exists")


class RegulatorGroup(models.TextChoices):
    """The regulator's three statistical groups."""

    SERVICE = "service", _("Service disputes")
    MARKETING_BILLING = "marketing_billing", _("Marketing, charging and tariff disputes")
    NETWORK_SECURITY = "network_security", _("Network quality and information security")


class ResolutionKind(models.TextChoices):
    IMMEDIATE = "immediate", _("Fixed at once")
    COORDINATED = "coordinated", _("Coordinated with another department")
    TAKES_TIME = "takes_time", _("Takes time")
    NEEDS_CUSTOMER = "needs_customer", _("Needs the customer")


class RemedyKind(models.TextChoices):
    REFUND = "refund", _("Refund")
    FEE_WAIVER = "fee_waiver", _("Fee waiver")
    COMPENSATION = "compensation", _("Compensation")
    APOLOGY = "apology", _("Apology")
    SERVICE_ADJUSTMENT = "service_adjustment", _("Service adjustment")


MONEY_REMEDIES = frozenset({RemedyKind.REFUND, RemedyKind.FEE_WAIVER, RemedyKind.COMPENSATION})


class RemedyStatus(models.TextChoices):
    REQUESTED = "requested", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")
