"""The demo OAuth client known to the development provider in ``devtools``."""

DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-client-secret"  # development only; the provider refuses others
