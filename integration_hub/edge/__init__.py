"""The HTTP edge: who is calling, conditional requests, CORS, body limits and framing,
text guard, logs, metrics, operations endpoints."""
