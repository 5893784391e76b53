"""Pages: sign-in (with the lockout after repeated failures) and sign-out.

The admin's own login page (``/admin/login/``) is this same page: ``admin.site.login`` is
``admin_login`` below, so every sign-in goes through ``auth_sign_in`` (lockout, per-address
throttle, audit)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import URLPattern, path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from tousu.accounts.services import AccountLocked, SignInRefused, SignInThrottled, auth_sign_in


class SignInForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def _safe_next(request: HttpRequest) -> str:
    """The page to return to after signing in: only a path on this same host, else nothing."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login(request: HttpRequest, *, default_next: str = "") -> HttpResponse:
    next_url = _safe_next(request) or default_next
    error = ""
    locked = False
    status, retry_after = 200, 0
    if request.method == "POST":
        form = SignInForm(request.POST)
        if form.is_valid():
            try:
                user = auth_sign_in(
                    request=request,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                )
            except SignInRefused as exc:
                error, locked = exc.message, isinstance(exc, AccountLocked | SignInThrottled)
                if isinstance(exc, SignInThrottled):
                    status, retry_after = 429, exc.retry_after
                # The name is kept: put the cursor in the password field for the next try.
                form.fields["username"].widget.attrs.pop("autofocus", None)
                form.fields["password"].widget.attrs["autofocus"] = True
            else:
                auth_login(request, user)
                return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    else:
        form = SignInForm()
    response = render(
        request,
        "web/login.html",
        {"form": form, "next": next_url, "error": error, "locked": locked},
        status=status,
    )
    if status == 429:
        response["Retry-After"] = str(retry_after)
    return response


def admin_login(request: HttpRequest, extra_context: object = None) -> HttpResponse:
    """``/admin/login/``: the staff sign-in page, returning to the administration."""
    return login(request, default_next=resolve_url("admin:index"))


urlpatterns: list[URLPattern] = [
    path("accounts/login/", login, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
