"""The words of the case, shared by every layer: statuses and the lifecycle table
(``states``), event kinds (``events``) and the fixed choices (``choices``). Plain enums and
tables with no models and no imports of other Tousu packages, so that the deadline layer
(``sla``) below the case services can speak of statuses and event kinds without importing
``complaints`` (ADR 0014). ``tousu.complaints.states``, ``.events`` and ``.choices`` re-export
them for the callers that name them there."""
