"""Numbers read across cases and their deadlines: the event-log consumer and its rollups, the KPIs,
the reports, and the dashboard aggregates (``dashboard``). Sits above ``complaints`` and ``sla``
(ADR 0014); neither imports it."""
