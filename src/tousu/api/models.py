"""The public TMF621 Trouble Ticket API: API keys and event-hub subscriptions."""
