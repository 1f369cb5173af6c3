"""What exists only in development: demo seeding, the echo upstream and the demo OAuth provider."""
