"""The portal's addresses, under /portal/. Anything else under it is the portal's own 404 page."""

from __future__ import annotations

from django.urls import path, re_path

from tousu.portal.views import filing, survey, tracking
from tousu.portal.views.common import not_found

app_name = "portal"

urlpatterns = [
    path("", filing.home, name="home"),
    path("file/", filing.file_complaint, name="file"),
    path("file/done/", filing.filed, name="filed"),
    path("track/", tracking.track, name="track"),
    path("track/code/", tracking.code, name="code"),
    path("case/<str:ticket_no>/", tracking.case, name="case"),
    path("case/<str:ticket_no>/answer/", tracking.answer, name="answer"),
    path("case/<str:ticket_no>/evidence/", tracking.evidence, name="evidence"),
    path("case/<str:ticket_no>/withdraw/", tracking.withdraw, name="withdraw"),
    path("survey/<str:token>/", survey.survey, name="survey"),
    re_path(r"^.*$", not_found),
]
