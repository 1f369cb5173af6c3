"""The audit log and how long logs are kept."""
