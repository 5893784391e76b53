"""ASGI entry point, for completeness. Tousu is served over WSGI (see docs/architecture.md)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tousu.settings")
application = get_asgi_application()
