"""Database integrations: drivers, hosts, options, read-only queries and schemas."""
