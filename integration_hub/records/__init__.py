"""The records store: items integrations feed into the hub, imported from files or synced."""
