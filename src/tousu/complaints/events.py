"""Re-exported from ``tousu.vocabulary.events``, which ``sla`` (below the case services) also uses."""

from tousu.vocabulary.events import *  # noqa: F403
