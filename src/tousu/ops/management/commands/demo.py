import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from tousu.complaints.models import Complaint
from tousu.ops.management.commands.serve import serve_argv
from tousu.ops.seed import DEMO_PASSWORD, USERS


class Command(BaseCommand):
    help = "Migrate, load demo data if the database is empty, then run the web server and the worker until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("TOUSU_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("TOUSU_PORT", "8000")))
        parser.add_argument(
            "--complaints", type=int, default=10_000, help="demo complaints to load into an empty database"
        )

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(f"database ready: {settings.DATABASES['default']['NAME']}")
        if not Complaint.objects.exists():
            self.stdout.write(f"loading demo data ({options['complaints']:,} complaints)…")
            call_command("seed", complaints=options["complaints"])
        call_command("collectstatic", interactive=False, verbosity=0)
        host, port = options["host"], options["port"]
        web = subprocess.Popen(serve_argv(host, port, 1, 4), start_new_session=True)
        worker = subprocess.Popen([sys.executable, "-m", "tousu.cli", "worker"], start_new_session=True)
        children = [web, worker]
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        time.sleep(0.5)
        self.stdout.write("")
        self.stdout.write(
            f"Tousu is running at http://{host}:{port}/   (administration: http://{host}:{port}/admin/)"
        )
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD!r} for all):")
        for username, display, role, dept in USERS:
            self.stdout.write(f"  {username:<18} {role.label} · {display}{' · ' + dept if dept else ''}")
        self.stdout.write("Press Ctrl-C to stop the web server and the worker.")
        self.stdout.flush()
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.2)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stdout.write("stopped.")
        failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stopping:
            sys.exit(1)
