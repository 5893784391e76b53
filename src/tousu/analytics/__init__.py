"""Numbers read across cases and their deadlines: the dashboard aggregates (``dashboard``). Sits
above ``complaints`` and ``sla`` (ADR 0014); neither imports it. Not a Django app: no models."""
