"""Personal data over its whole life (PIPL): the inventory, erasure, retention, data-subject requests."""
