"""Re-exported from ``tousu.vocabulary.states``, which ``sla`` (below the case services) also uses."""

from tousu.vocabulary.states import *  # noqa: F403
