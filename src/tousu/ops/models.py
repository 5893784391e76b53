"""What the operations side keeps in the database: one heartbeat row per running worker process."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkerHeartbeat(models.Model):
    """A worker process's last sign of life, the work it does, and how long its last batches took.

    Written by the worker after every loop (one UPDATE), read by ``/readyz`` (is any worker alive for
    each kind of work?) and ``/metrics`` (batch durations). A row whose ``beat_at`` is older than
    ``TOUSU_WORKER_STALE_SECONDS`` belongs to a process that died or hangs; rows older than a day are
    removed by the next worker that starts.
    """

    name = models.CharField(max_length=200, unique=True, help_text="host:pid")
    kinds = models.CharField(max_length=200, help_text="comma-separated kinds of work this process runs")
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)
    batches = models.PositiveBigIntegerField(default=0)
    handled = models.PositiveBigIntegerField(default=0)
    # {job name: seconds its last run took}
    last_seconds = models.JSONField(default=dict)

    class Meta:
        ordering = ["name"]
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return self.name
