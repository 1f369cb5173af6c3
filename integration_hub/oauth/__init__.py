"""OAuth2 with integrations' authorization servers: the browser flow, the client,
token refresh and revocation."""
