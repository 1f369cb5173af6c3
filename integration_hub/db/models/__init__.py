"""The mapped classes, one module per aggregate."""

from integration_hub.db.models.browser_session import BrowserSession
from integration_hub.db.models.cache_generation import CacheGeneration
from integration_hub.db.models.connection import Connection, OAuthState
from integration_hub.db.models.icon import IntegrationIcon
from integration_hub.db.models.integration import Integration, IntegrationShare
from integration_hub.db.models.proxy_request import ProxyRequest
from integration_hub.db.models.rate_limit import RateLimitCounter
from integration_hub.db.models.record import Record, RecordLineage
from integration_hub.db.models.sync import SyncRun, SyncState
from integration_hub.db.models.tag import Tag, integration_tags
from integration_hub.db.models.tenant import Tenant
from integration_hub.db.models.token import ApiToken
from integration_hub.db.models.user import RetiredPrincipal, Team, TeamMember, User
from integration_hub.db.models.webhook import AuditEntry, Webhook, WebhookAttempt, WebhookDelivery

__all__ = ["ApiToken", "AuditEntry", "BrowserSession", "CacheGeneration", "Connection", "Integration",
           "IntegrationIcon", "IntegrationShare", "OAuthState", "ProxyRequest", "RateLimitCounter",
           "Record", "RecordLineage", "RetiredPrincipal", "SyncRun", "SyncState", "Tag", "Team", "TeamMember",
           "Tenant", "User", "Webhook", "WebhookAttempt", "WebhookDelivery", "integration_tags"]
