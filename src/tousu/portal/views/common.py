"""What every portal page shares: the client's address, rate limits, the verified cases of the
browser session, and the pages for refusals (429, 404)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from tousu.common.errors import ConflictError, InvalidTransition, TousuError, ValidationError
from tousu.common.origin import Origin
from tousu.common.ratelimit import Hit, ratelimit_hit

VERIFIED = "portal_cases"  # session key: ids of the cases this browser proved it may follow
MAX_VERIFIED = 20
HOUR = 3600


def origin_of(request: HttpRequest) -> Origin:
    return Origin.from_request(request, via="portal")


def first_refusal(*limits: tuple[str, str, int, int]) -> Hit | None:
    """Count one hit in each (scope, ident, limit, window); the first one over its limit, if any."""
    for scope, ident, limit, window in limits:
        hit = ratelimit_hit(scope, ident, limit=limit, window=window)
        if not hit.allowed:
            return hit
    return None


def too_many(request: HttpRequest, hit: Hit) -> HttpResponse:
    minutes = max(1, (hit.retry_after + 59) // 60)
    response = render(request, "portal/limited.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(hit.retry_after)
    return response


def verified_ids(request: HttpRequest) -> list[int]:
    return [int(pk) for pk in request.session.get(VERIFIED, [])]


def grant(request: HttpRequest, complaint_id: int) -> None:
    """Let this browser session follow one case (it proved it may). A visitor's session then ends
    with the browser; a signed-in member of staff keeps theirs as it was."""
    ids = [pk for pk in verified_ids(request) if pk != complaint_id] + [complaint_id]
    request.session.cycle_key()  # a session key planted before the proof opens nothing
    request.session[VERIFIED] = ids[-MAX_VERIFIED:]
    if not request.user.is_authenticated:
        request.session.set_expiry(0)


def not_found(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    return render(request, "portal/404.html", status=404)


def customer_message(error: TousuError) -> str:
    """A refusal in words for the customer: input problems as the service said them; a case
    that moved on meanwhile, plainly (internal status names mean nothing to a customer)."""
    if isinstance(error, InvalidTransition | ConflictError):
        return _("This cannot be done now: the status of your complaint has changed. Please look again.")
    if isinstance(error, ValidationError):
        return error.message
    return _("This cannot be done now. Please try again later or call our hotline.")
