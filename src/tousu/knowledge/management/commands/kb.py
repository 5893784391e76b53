from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tousu.common.errors import TousuError
from tousu.knowledge.exchange import export_markdown, export_xlsx, import_rows, read_markdown, read_xlsx


class Command(BaseCommand):
    help = (
        "Import or export knowledge articles: an .xlsx file (one row per article) or a folder of "
        "Markdown files. An import is all or nothing and publishes the articles it changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["import", "export"])
        parser.add_argument("path", help="an .xlsx file or a folder of .md files")

    def handle(self, *args, **options):
        path = Path(options["path"])
        is_xlsx = path.suffix.lower() == ".xlsx"
        try:
            if options["action"] == "export":
                count = export_xlsx(path) if is_xlsx else export_markdown(path)
                self.stdout.write(f"exported articles={count} to {path}")
                return
            if not path.exists():
                raise CommandError(f"{path} does not exist")
            rows = read_xlsx(path) if is_xlsx else read_markdown(path)
            done = import_rows(rows, source=path.name)
        except TousuError as exc:
            raise CommandError(exc.message) from exc
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        self.stdout.write(f"imported rows={done['rows']} changed={done['changed']}")
