"""Who exists and who is calling: tenants, users, teams, API tokens, sessions, sign-in."""
