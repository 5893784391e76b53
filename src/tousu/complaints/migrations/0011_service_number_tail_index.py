from django.db import migrations

# As in tousu.complaints.search (``tail_index_sql``), kept here as it was when this was written.
SERVICE_NUMBER_TAIL_INDEX = "complaint_service_number_tail_idx"


def add_service_number_tail_index(apps, schema_editor):
    """PostgreSQL: the last digits of a service number, found as the start of the reversed one."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{SERVICE_NUMBER_TAIL_INDEX}" ON "complaints_complaint" '
        "(reverse(\"service_number\") text_pattern_ops)"
    )


def remove_service_number_tail_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX IF EXISTS "{SERVICE_NUMBER_TAIL_INDEX}"')


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0010_event_kind_unlinked"),
    ]

    operations = [
        migrations.RunPython(add_service_number_tail_index, remove_service_number_tail_index, elidable=False),
    ]
