"""Integrations: their rules, access (ACL), sharing, tags, icons, catalogue and provisioning."""
