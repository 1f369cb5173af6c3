"""The mapped classes, one module per aggregate."""

from integration_hub.db.models.tenant import Tenant
from integration_hub.db.models.token import ApiToken
from integration_hub.db.models.user import Team, TeamMember, User

__all__ = ["ApiToken", "Team", "TeamMember", "Tenant", "User"]
