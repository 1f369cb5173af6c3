"""Webhooks: subscriptions, events told once a change commits, signed deliveries."""
