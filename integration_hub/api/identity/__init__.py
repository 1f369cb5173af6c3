"""The HTTP face of identity: users, teams, tokens, the tenant, sign-in."""
