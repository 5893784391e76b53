from django.contrib import admin
from django.urls import include, path

from tousu.analytics import views as reports
from tousu.api.routes import api_v4, api_v5
from tousu.knowledge import views as knowledge_views
from tousu.ops import health
from tousu.quality import views as quality_views
from tousu.triage import views as triage_views
from tousu.web.views import auth, case, customers, dashboard, home, inbox, queues, register, regulator

handler500 = "tousu.common.faults.server_error"

admin.site.site_header = "Tousu 投诉管理"
admin.site.site_title = "Tousu"
# One sign-in path: the admin's login page is the staff one (lockout, per-address throttle, audit).
admin.site.login = auth.admin_login  # type: ignore[method-assign]

urlpatterns = [
    *home.urlpatterns,
    *health.urlpatterns,
    *inbox.urlpatterns,
    *auth.urlpatterns,
    *register.urlpatterns,
    *triage_views.urlpatterns,
    *knowledge_views.urlpatterns,
    *queues.urlpatterns,
    *case.urlpatterns,
    *customers.urlpatterns,
    *dashboard.urlpatterns,
    *regulator.urlpatterns,
    *reports.urlpatterns,
    *quality_views.urlpatterns,
    path("portal/", include("tousu.portal.urls")),
    path("tmf-api/troubleTicket/v4/", api_v4.urls),
    path("tmf-api/troubleTicket/v5/", api_v5.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
