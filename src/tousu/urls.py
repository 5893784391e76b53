from django.contrib import admin
from django.urls import include, path

from tousu.analytics import views as reports
from tousu.api.api import api as tmf621
from tousu.web.views import auth, case, dashboard, home, queues, register, regulator

admin.site.site_header = "Tousu 投诉管理"
admin.site.site_title = "Tousu"

urlpatterns = [
    *home.urlpatterns,
    *auth.urlpatterns,
    *register.urlpatterns,
    *queues.urlpatterns,
    *case.urlpatterns,
    *dashboard.urlpatterns,
    *regulator.urlpatterns,
    *reports.urlpatterns,
    path("portal/", include("tousu.portal.urls")),
    path("tmf-api/troubleTicket/v4/", tmf621.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
