"""``/api/integrations/{id}/directories/preview``."""
