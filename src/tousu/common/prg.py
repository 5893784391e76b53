"""Post/redirect/get for form endpoints: a POST-only address answers a GET with the page it belongs to.

A form that comes back with errors is rendered at the address it was posted to. Reloading that
page later, or switching the language (which goes back to the current address with a GET), must not
end on "405 Method Not Allowed": ``get_goes_to`` lets such an endpoint answer GET (and HEAD) with a
redirect to its page, and still refuses any other method.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect

View = Callable[..., HttpResponse]


def get_goes_to(page: Callable[..., str]) -> Callable[[View], View]:
    """``page(request, **view_kwargs)`` is the address a GET is sent to; POST runs the view."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method in ("GET", "HEAD"):
                return HttpResponseRedirect(page(request, *args, **kwargs))
            if request.method != "POST":
                return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
