"""``/api/audit``."""
