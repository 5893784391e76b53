from django.contrib import admin

from tousu.common.admin import ReadOnlyAdmin
from tousu.quality.models import (
    Appeal,
    Inspection,
    Pick,
    QualityEvent,
    SamplingRules,
    SamplingRun,
    Scorecard,
    ScorecardVersion,
)

# Everything here is written by the quality services (rules and scorecards by supervisors on the
# quality pages, audited there); the administration only reads.
for model in (
    SamplingRules,
    Scorecard,
    ScorecardVersion,
    SamplingRun,
    Pick,
    Inspection,
    Appeal,
    QualityEvent,
):
    admin.site.register(model, ReadOnlyAdmin)
