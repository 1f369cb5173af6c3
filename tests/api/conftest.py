"""Fixtures shared by the API's tests."""

import pytest


@pytest.fixture
def keyed(make_integration, upstream):
    """Factory: an API-key integration on the recording upstream, shared with mia."""

    def make(**values):
        settings = {"type": "custom", "auth_type": "apikey", "mode": "per-user",
                    "api_base_uri": f"{upstream.url}/v1", "api_key": "integration-key-123",
                    "api_key_name": "X-Api-Key", "shares": {"mia": 1}, **values}
        return make_integration("Upstream", **settings)

    return make
