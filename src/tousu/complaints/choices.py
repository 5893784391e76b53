"""Re-exported from ``tousu.vocabulary.choices``, which ``sla`` (below the case services) also uses."""

from tousu.vocabulary.choices import *  # noqa: F403
