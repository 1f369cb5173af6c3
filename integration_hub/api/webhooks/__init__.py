"""``/api/webhooks``."""
