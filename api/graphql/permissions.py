"""Field permissions by role (API.md "Access"), enforced in one place for the whole schema.

AccessControl sees every field before it resolves and asks the policy of api/auth.py: a field
whose record type or own name the caller's role may not read raises FORBIDDEN (the field is null;
on a non-null field GraphQL nulls the nearest nullable parent), and every mutation needs a writer
role, checked before its resolver runs, so a refused mutation changes nothing. Reads of casualties'
personal data are collected per request; count_personal_data_reads() adds them to the key's
counter in one statement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLResolveInfo,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from api.auth import FIELD_READERS, PERSONAL_DATA_FIELDS, TYPE_READERS, WRITERS
from api.errors import Forbidden
from api.graphql.context import Context
from db.queries import keys as key_sql

log = logging.getLogger("mar.graphql")

# (parent type, field) -> the roles allowed (None: every role), worked out once per field.
_RULES: dict[tuple[str, str], frozenset[str] | None] = {}


def _node_type_name(return_type: GraphQLOutputType) -> str:
    """The record type a field returns: through lists, non-nulls and Connection/Edge wrappers."""
    inner = return_type
    while isinstance(inner, GraphQLNonNull | GraphQLList):
        inner = inner.of_type
    name = get_named_type(inner).name
    for suffix in ("Connection", "Edge"):
        if name.endswith(suffix) and name[: -len(suffix)] in TYPE_READERS:
            return name[: -len(suffix)]
    return name


def _rule(parent: str, field: str, return_type: GraphQLOutputType) -> frozenset[str] | None:
    if parent == "Mutation":
        return WRITERS
    own = FIELD_READERS.get(f"{parent}.{field}")
    by_type = TYPE_READERS.get(_node_type_name(return_type))
    if own is not None and by_type is not None:
        return own & by_type
    return own if own is not None else by_type


def allowed_roles(info: GraphQLResolveInfo[Context]) -> frozenset[str] | None:
    """The roles that may resolve this field (None: every role)."""
    key = (info.parent_type.name, info.field_name)
    try:
        return _RULES[key]
    except KeyError:
        rule = _RULES[key] = _rule(key[0], key[1], info.return_type)
        return rule


def _refusal(role: str, parent: str, field: str) -> str:
    if parent == "Mutation":
        return f"the {role} role may not change records ({field})"
    return f"the {role} role may not read {parent}.{field}"


class AccessControl(SchemaExtension):
    """Refuse, field by field, what the caller's role may not see or do."""

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Context],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        roles = allowed_roles(info)
        if roles is not None:
            context: Context = info.context
            parent = info.parent_type.name
            if context.role not in roles:
                raise Forbidden(_refusal(context.role, parent, info.field_name))
            if f"{parent}.{info.field_name}" in PERSONAL_DATA_FIELDS:
                context.personal_data_read.add(getattr(root, "id", None))
        return _next(root, info, *args, **kwargs)


async def count_personal_data_reads(context: Context) -> None:
    """Add the casualties whose personal data the request read to the key's counter.

    Called by the HTTP view once the operation has run (an extension hook cannot await under
    execute_sync), so a request costs one statement however many fields it read.
    """
    if not context.personal_data_read or context.key_id is None:
        return
    try:
        async with context.db.acquire() as conn:
            await conn.execute(
                key_sql.COUNT_PERSONAL_DATA_READS, context.key_id, len(context.personal_data_read)
            )
    except Exception:
        # The answer is already made; a lost count must not turn it into an error, but it is
        # reported so that an operator sees the counter fall behind.
        log.exception("could not count personal data reads for key %s", context.key_name)
