"""Field permissions by role (API.md "Access"): a refused field resolves to null with FORBIDDEN."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from api.errors import Forbidden
from api.graphql.context import Info

# Roles that may read casualties' personal data (full name, notes).
PERSONAL_DATA_ROLES = frozenset({"editor", "admin"})


class CanReadPersonalData(BasePermission):
    """Only editors and admins see a casualty's personal data."""

    message = "Casualties' personal data is visible only to the editor and admin roles"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        """Whatever the record and the field's arguments, the caller's role decides."""
        del source, kwargs
        return info.context.role in PERSONAL_DATA_ROLES

    def on_unauthorized(self) -> None:
        # An ApiError keeps its code through api/graphql/errors.py; strawberry's own error would
        # be masked as INTERNAL_SERVER_ERROR there.
        raise Forbidden(self.message)
