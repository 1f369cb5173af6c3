"""Syncs: paging through an upstream listing into a records model, on demand or on a schedule."""
