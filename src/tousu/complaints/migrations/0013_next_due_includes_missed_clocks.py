"""``next_due_at`` now also counts a missed clock that is not met yet (the queues sort on it and
show it as the deadline): recompute it for the cases that have one."""

from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery


def recompute(apps, schema_editor):
    Complaint = apps.get_model("complaints", "Complaint")
    SlaClock = apps.get_model("sla", "SlaClock")
    owed = Q(state="running") | Q(state="breached", ended_at__isnull=True)
    earliest = SlaClock.objects.filter(owed, complaint_id=OuterRef("pk")).order_by("due_at").values("due_at")[:1]
    missed = SlaClock.objects.filter(state="breached", ended_at__isnull=True).values("complaint_id")
    Complaint.objects.filter(pk__in=missed).update(next_due_at=Subquery(earliest))


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0012_category_synonyms"),
        ("sla", "0004_clock_missed_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="complaint",
            name="next_due_at",
            field=models.DateTimeField(
                blank=True,
                help_text="The earliest due time the case still owes: of its running SLA clocks, or of a missed one not met yet.",
                null=True,
                verbose_name="next deadline",
            ),
        ),
        migrations.RunPython(recompute, migrations.RunPython.noop, elidable=True),
    ]
