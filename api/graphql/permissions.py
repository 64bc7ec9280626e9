"""Field permissions by role (API.md "Access"), enforced in one place for the whole schema.

guard_schema() walks the built schema once and wraps the resolver of every field that some role
may not use, as the policy of api/auth.py says: a field whose record type or own name the
caller's role may not read raises FORBIDDEN (the field is null; on a non-null field GraphQL nulls
the nearest nullable parent), and every mutation needs a writer role, checked before its resolver
runs, so a refused mutation changes nothing. Fields every role may read keep their resolvers
untouched, so the check costs nothing where it has nothing to say. Reads of casualties' personal
data are collected per request, whether through Casualty's own fields or an audit entry's copy of
a casualty; count_personal_data_reads() adds them to the key's counter in one statement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    default_field_resolver,
    get_named_type,
)

from api.auth import (
    FIELD_READERS,
    PERSONAL_DATA_CARRIERS,
    PERSONAL_DATA_COLUMNS,
    PERSONAL_DATA_FIELDS,
    TYPE_READERS,
    WRITERS,
)
from api.errors import Forbidden
from api.graphql.context import Context
from db.queries import keys as key_sql

log = logging.getLogger("mar.graphql")


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


def allowed_roles(parent: str, field: str, return_type: GraphQLOutputType) -> frozenset[str] | None:
    """The roles that may resolve `parent.field` (None: every role)."""
    if parent == "Mutation":
        return WRITERS
    own = FIELD_READERS.get(f"{parent}.{field}")
    by_type = TYPE_READERS.get(_node_type_name(return_type))
    if own is not None and by_type is not None:
        return own & by_type
    return own if own is not None else by_type


def _refusal(role: str, parent: str, field: str) -> str:
    if parent == "Mutation":
        return f"the {role} role may not change records ({field})"
    return f"the {role} role may not read {parent}.{field}"


def _audited_casualty(root: Any, value: Any) -> object | None:
    """The casualty whose personal data an audit entry's before/after shows, if it shows any."""
    if getattr(root, "entity", None) != "Casualty" or not isinstance(value, dict):
        return None
    if PERSONAL_DATA_COLUMNS.isdisjoint(value):
        return None
    # The same key as Casualty.id's: one casualty read twice in a request counts once.
    return str(getattr(root, "entity_id", None))


def _guard(
    resolve: Callable[..., Any], roles: frozenset[str] | None, parent: str, name: str
) -> Callable[..., Any]:
    personal = f"{parent}.{name}" in PERSONAL_DATA_FIELDS
    carrier = f"{parent}.{name}" in PERSONAL_DATA_CARRIERS

    def guarded(root: Any, info: GraphQLResolveInfo[Context], **kwargs: Any) -> Any:
        context: Context = info.context
        if roles is not None and context.role not in roles:
            raise Forbidden(_refusal(context.role, parent, name))
        if personal:
            context.personal_data_read.add(getattr(root, "id", None))
        value = resolve(root, info, **kwargs)
        if carrier:
            casualty = _audited_casualty(root, value)
            if casualty is not None:
                context.personal_data_read.add(casualty)
        return value

    return guarded


def guard_schema(schema: GraphQLSchema) -> None:
    """Put the role check in front of every field that not every role may use, and the count
    in front of every field that may show personal data."""
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            roles = allowed_roles(type_.name, name, field.type)
            if roles is not None or f"{type_.name}.{name}" in PERSONAL_DATA_CARRIERS:
                _wrap(field, roles, type_.name, name)


def _wrap(field: GraphQLField, roles: frozenset[str] | None, parent: str, name: str) -> None:
    field.resolve = _guard(field.resolve or default_field_resolver, roles, parent, name)


async def count_personal_data_reads(context: Context) -> None:
    """Add the casualties whose personal data the request read to the key's counter, once.

    Called by the HTTP view once the operation has run (an extension hook cannot await under
    execute_sync), and by subscriptions after each event, so a request costs one statement
    however many fields it read. What is counted is taken from the context before the write, so
    a later call (a subscription ending while an event's count is on its way) never counts it
    again.
    """
    count = len(context.personal_data_read)
    context.personal_data_read.clear()
    if not count or context.key_id is None:
        return
    try:
        async with context.db.acquire() as conn:
            await conn.execute(key_sql.COUNT_PERSONAL_DATA_READS, context.key_id, count)
    except Exception:
        # The answer is already made; a lost count must not turn it into an error, but it is
        # reported so that an operator sees the counter fall behind.
        log.exception("could not count personal data reads for key %s", context.key_name)
