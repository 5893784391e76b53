import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the production web server (granian, WSGI)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("TOUSU_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("TOUSU_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("TOUSU_WEB_WORKERS", "2")))
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("TOUSU_WEB_THREADS", "4")),
            help="blocking threads per worker process",
        )

    def handle(self, *args, **options):
        call_command("collectstatic", interactive=False, verbosity=0)
        argv = serve_argv(options["host"], options["port"], options["workers"], options["threads"])
        self.stdout.write(
            f"Serving on http://{options['host']}:{options['port']} with {options['workers']} workers"
        )
        sys.stdout.flush()
        os.execv(argv[0], argv)


def serve_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--no-ws",
        "--log-level",
        "warning",
        "tousu.wsgi:application",
    ]
