from django.db import migrations, models

# As in tousu.complaints.search (``tail_index_sql``), kept here as it was when this was written.
PHONE_TAIL_INDEX = "customer_phone_tail_idx"


def add_phone_tail_index(apps, schema_editor):
    """PostgreSQL: the last digits of a phone, found as the start of the reversed number."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{PHONE_TAIL_INDEX}" ON "customers_customer" '
        '(reverse("phone") text_pattern_ops)'
    )


def remove_phone_tail_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX IF EXISTS "{PHONE_TAIL_INDEX}"')


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["name"], name="customer_name_idx"),
        ),
        migrations.RunPython(add_phone_tail_index, remove_phone_tail_index, elidable=False),
    ]
