"""Business rules: each module owns one idea and the transactions it needs."""
