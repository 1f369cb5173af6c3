"""The request proxy: URL guard, credentials, header templates, upstream HTTP, rate limits, request log."""
