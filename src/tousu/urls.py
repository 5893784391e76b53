from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tousu.web import views

admin.site.site_header = "Tousu 投诉管理"
admin.site.site_title = "Tousu"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
