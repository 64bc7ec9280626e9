"""Read queries compiled to SQL that writes their answer (db/queries/json_reads.py).

The executor resolves a query field by field, which costs tens of microseconds of Python per
field: a page of 50 zones with their tasks and teams is some 800 fields. A query whose every
field the catalog knows is instead answered by one statement per top-level field, in which
PostgreSQL writes the JSON; Python only pages (keyset cursors, the same statements' shape as the
resolvers') and joins the texts. The answer is the same, byte for byte, as the executor's.

Anything this module does not handle is left to the executor, which then answers as always:
mutations and subscriptions, introspection, documents that do not validate, variables that do
not coerce, costs over the limit, arguments the resolvers would refuse (their errors come from
the executor), @skip/@include on variables, cursors inside nested pages, fields a role may not
read, personal data (counted per key by the executor), and fields the catalog lacks.

Plans (the validated selection of a document, per role) are kept per distinct document, by the
digest of its text, within a byte budget (documents no larger than the documents' cache takes);
arguments and variables are applied per request, and the statements of small variables are kept
with the plan.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    get_named_type,
    specified_rules,
    validate,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types.arguments import convert_arguments

from api.auth import ANONYMOUS, PERSONAL_DATA_FIELDS, Caller
from api.errors import BadUserInput, QueryTooComplex
from api.graphql.documents import AST_BYTES_PER_CHAR, BoundedCache, Documents, digest
from api.graphql.incident import incident_list
from api.graphql.limits import QueryLimits, alias_rule, check_cost, depth_rule
from api.graphql.listing import ListQuery, lookup
from api.graphql.organisation import organisation_list
from api.graphql.pagination import encode_cursor, page_size
from api.graphql.permissions import allowed_roles
from api.graphql.response_cache import query_operation
from api.graphql.schema import MarSchema
from api.graphql.task import task_list
from api.graphql.team import team_list
from api.graphql.zone import zone_list
from db.queries import json_reads
from db.queries.json_reads import CATALOG, Many, One, Page, Pick, Value
from db.queries.sql import Params

log = logging.getLogger("mar.graphql")

# Top-level lists: the record they page and the function that turns their arguments (all but
# first and after) into what they read, as the resolvers do.
ROOT_LISTS: dict[str, tuple[str, Callable[..., ListQuery]]] = {
    "zones": ("zone", zone_list),
    "incidents": ("incident", incident_list),
    "tasks": ("task", task_list),
    "teams": ("team", team_list),
    "organisations": ("organisation", organisation_list),
}
# Top-level lookups by id or code.
ROOT_ONES = {name: name for name in ("zone", "incident", "task", "team", "organisation")}
# What the executor may raise for arguments it refuses: the executor then answers with the error.
REFUSALS = (BadUserInput, QueryTooComplex)


class NotCompiled(Exception):
    """This request is left to the executor."""


@dataclass(frozen=True)
class Selected:
    """A field a document selects: response key, definition, and what it selects in turn."""

    key: str
    name: str  # the GraphQL name; "__typename" has no definition
    parent: GraphQLObjectType
    node: FieldNode
    definition: GraphQLField | None
    children: tuple[Selected, ...]
    python_name: str = ""  # the field's name in the code and the catalog


def _python_name(definition: GraphQLField, name: str) -> str:
    strawberry_field = definition.extensions.get("strawberry-definition")
    return str(getattr(strawberry_field, "python_name", name))


@dataclass(frozen=True)
class Plan:
    """A validated read-only operation whose every field can be compiled (for one role)."""

    document: DocumentNode
    operation: OperationDefinitionNode
    name: str  # for the access log and metrics: the operation's name, else "query"
    roots: tuple[Selected, ...]
    # The statements of recent requests, by their variables (CompiledReads._prepared).
    prepared: OrderedDict[str, list[Statement]] = field(default_factory=OrderedDict)
    # One copy of each SQL text those statements share (most variables change only parameters).
    texts: dict[str, str] = field(default_factory=dict)
    source_chars: int = 0  # the length of the document's text
    cache_key: tuple[bytes, str | None, str] | None = None  # where CompiledReads keeps it


def _included(selection: SelectionNode) -> bool:
    """Whether @skip/@include keep a selection; other directives, or variables, are not ours."""
    for directive in selection.directives or ():
        name = directive.name.value
        arguments = directive.arguments or ()
        if name not in ("skip", "include") or len(arguments) != 1:
            raise NotCompiled(f"directive @{name}")
        value = arguments[0].value
        if not isinstance(value, BooleanValueNode):
            raise NotCompiled(f"@{name} on a variable")
        if value.value == (name == "skip"):
            return False
    return True


def _collect(
    selection_sets: Iterable[SelectionSetNode],
    fragments: dict[str, FragmentDefinitionNode],
    parent: GraphQLObjectType,
) -> dict[str, list[FieldNode]]:
    """The fields selected on `parent` by response key, in the order the executor answers them."""
    grouped: dict[str, list[FieldNode]] = {}
    spread: set[str] = set()

    def visit(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if not _included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
                continue
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in spread:
                    continue
                spread.add(name)
                fragment = fragments[name]
                condition = fragment.type_condition.name.value
                selections = fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition = (
                    selection.type_condition.name.value if selection.type_condition else parent.name
                )
                selections = selection.selection_set
            if condition != parent.name:
                raise NotCompiled(f"a fragment on {condition} inside {parent.name}")
            visit(selections)

    for selection_set in selection_sets:
        visit(selection_set)
    return grouped


class Planner:
    """Builds plans: which documents can be compiled, for which role."""

    def __init__(self, schema: GraphQLSchema, limits: QueryLimits, documents: Documents) -> None:
        self.schema = schema
        self.limits = limits
        self.documents = documents
        self.rules = (*specified_rules, depth_rule(limits), alias_rule(limits))

    def plan(self, query: str, operation_name: str | None, role: str) -> Plan | None:
        """The plan of a document for a role, or None when the executor must answer it."""
        try:
            document = self.documents.parse(query, self.limits.max_tokens)
        except GraphQLError:
            return None
        if validate(self.schema, document, self.rules):
            return None
        operation = query_operation(document, operation_name)
        if operation is None:
            return None
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        query_type = self.schema.query_type
        assert query_type is not None
        try:
            roots = self._fields(query_type, [operation.selection_set], fragments, role)
        except NotCompiled as reason:
            log.debug("executed, not compiled: %s", reason)
            return None
        if not all(r.name in ROOT_LISTS or r.name in ROOT_ONES for r in roots):
            return None
        name = operation.name.value if operation.name else OperationType.QUERY.value
        return Plan(document, operation, name, roots, source_chars=len(query))

    def _fields(
        self,
        parent: GraphQLObjectType,
        selection_sets: Sequence[SelectionSetNode],
        fragments: dict[str, FragmentDefinitionNode],
        role: str,
    ) -> tuple[Selected, ...]:
        out = []
        for key, nodes in _collect(selection_sets, fragments, parent).items():
            name = nodes[0].name.value
            if name == "__typename":
                out.append(Selected(key, name, parent, nodes[0], None, ()))
                continue
            if name.startswith("__"):
                raise NotCompiled("introspection")
            definition = parent.fields[name]
            roles = allowed_roles(parent.name, name, definition.type)
            if roles is not None and role not in roles:
                raise NotCompiled(f"{parent.name}.{name} is not for the {role} role")
            if f"{parent.name}.{name}" in PERSONAL_DATA_FIELDS:
                raise NotCompiled("personal data is counted by the executor")
            named = get_named_type(definition.type)
            children: tuple[Selected, ...] = ()
            if isinstance(named, GraphQLObjectType):
                sets = [n.selection_set for n in nodes if n.selection_set is not None]
                children = self._fields(named, sets, fragments, role)
            python_name = _python_name(definition, name)
            out.append(Selected(key, name, parent, nodes[0], definition, children, python_name))
        return tuple(out)


def _plan_bytes(plan: Plan | None) -> int:
    """What a plan holds, counted: its document and selection (an upper estimate), and the
    statements it keeps (their keys, their arguments, their texts)."""
    if plan is None:
        return 64
    size = 2 * (AST_BYTES_PER_CHAR + 1) * plan.source_chars  # the document, and the selection
    for key, statements in plan.prepared.items():
        # The key, the arguments made from those variables, each statement and its count.
        size += 2 * len(key)
        size += sum(STATEMENT_BYTES + len(getattr(s, "count_sql", "")) for s in statements)
    return size + sum(len(text) for text in plan.texts)


def _key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _object(members: Iterable[tuple[str, str]]) -> str:
    """A JSON object from (key, JSON text) pairs, written as json.dumps writes one."""
    return "{" + ", ".join(f"{_key(k)}: {v}" for k, v in members) + "}"


def _typename(selected: Selected) -> str:
    return json.dumps(selected.parent.name)


PREPARED_PER_PLAN = 64  # the variables a plan keeps its statements for (least recently used out)
PREPARED_VARIABLES_BYTES = 1024  # statements of larger variables (as JSON) are not kept
STATEMENT_BYTES = 256  # a kept statement's object, its tuple of arguments and page details


@dataclass(frozen=True)
class Statement(ABC):
    """The statement answering one top-level field, ready to run: its SQL and parameters."""

    key: str
    sql: str
    args: tuple[object, ...]

    @abstractmethod
    async def run(self, conn: Any) -> str:
        """The JSON text of the field."""


@dataclass(frozen=True)
class OneStatement(Statement):
    """A record by id or code: its JSON, or null."""

    async def run(self, conn: Any) -> str:
        text = await conn.fetchval(self.sql, *self.args)
        return "null" if text is None else str(text)


@dataclass(frozen=True)
class PageStatement(Statement):
    """A top-level connection: one statement for the page, one for the total if asked; the
    cursors and page info are made here, as the resolvers make them."""

    root: Selected
    list_name: str
    order_name: str
    limit: int
    after: bool  # whether the page starts after a cursor
    count_sql: str
    count_args: tuple[object, ...]

    async def run(self, conn: Any) -> str:
        rows = await conn.fetch(self.sql, *self.args)
        if any(text is None for row in rows for text in row[2:]):
            raise NotCompiled("a record the catalog could not write")
        parts = self.root.children
        page = rows[: self.limit]
        cursors: list[str] = []
        if any(part.name in ("edges", "pageInfo") for part in parts):
            cursors = [encode_cursor(self.list_name, self.order_name, r[1], r[0]) for r in page]
        column = 2
        members = []
        for part in parts:
            if part.name == "__typename":
                members.append((part.key, _typename(part)))
            elif part.name == "nodes":
                members.append((part.key, "[" + ", ".join(r[column] for r in page) + "]"))
                column += 1
            elif part.name == "edges":
                members.append((part.key, _edges(part, page, cursors, column)))
                column += sum(1 for inner in part.children if inner.name == "node")
            elif part.name == "pageInfo":
                more = len(rows) > self.limit
                members.append((part.key, _page_info(part, cursors, more, self.after)))
            else:  # totalCount
                total = await conn.fetchval(self.count_sql, *self.count_args)
                members.append((part.key, str(total)))
        return _object(members)


def _edges(part: Selected, page: Sequence[Any], cursors: list[str], column: int) -> str:
    """The edges of a page: each row's cursor and node (and __typename) as selected."""
    edges = []
    for i, row in enumerate(page):
        members = []
        node_column = column
        for inner in part.children:
            if inner.name == "cursor":
                members.append((inner.key, json.dumps(cursors[i])))
            elif inner.name == "node":
                members.append((inner.key, str(row[node_column])))
                node_column += 1
            else:
                members.append((inner.key, _typename(inner)))
        edges.append(_object(members))
    return "[" + ", ".join(edges) + "]"


def _page_info(part: Selected, cursors: list[str], more: bool, after: bool) -> str:
    """The page info as selected: whether there is more, and the first and last cursors."""
    values = {
        "hasNextPage": json.dumps(more),
        "hasPreviousPage": json.dumps(after),
        "startCursor": json.dumps(cursors[0] if cursors else None),
        "endCursor": json.dumps(cursors[-1] if cursors else None),
    }
    return _object(
        (p.key, _typename(p) if p.name == "__typename" else values[p.name]) for p in part.children
    )


class CompiledReads:
    """Answers the read queries it can compile; says None for every other request."""

    def __init__(self, schema: MarSchema, limits: QueryLimits, max_page_size: int) -> None:
        self.strawberry = schema
        self.schema: GraphQLSchema = schema._schema
        self.limits = limits
        self.max_page_size = max_page_size
        self.documents = schema.documents
        self.planner = Planner(self.schema, limits, self.documents)
        # Plans by (digest of the document, operation name, role); None: the executor answers.
        self.plans: BoundedCache[tuple[bytes, str | None, str], Plan | None] = BoundedCache(
            self.documents.max_bytes
        )

    def plan(self, query: str, operation_name: str | None, role: str) -> Plan | None:
        """The plan of a document for a role (kept when the document is small enough)."""
        if not self.documents.cacheable(query):
            return self.planner.plan(query, operation_name, role)
        key = (digest(query), operation_name, role)
        if key in self.plans:
            return self.plans.get(key)
        plan = self.planner.plan(query, operation_name, role)
        if plan is not None:
            plan = replace(plan, cache_key=key)
        self.plans.put(key, plan, _plan_bytes(plan))
        return plan

    async def respond(self, request: Request, media_type: str) -> Response | None:
        """The answer to a POSTed read query this module can compile, else None."""
        if request.method != "POST":
            return None
        if not request.headers.get("content-type", "").startswith("application/json"):
            return None
        try:
            data = json.loads(await request.body())
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            return None
        name = data.get("operationName")
        variables = data.get("variables")
        if (name is not None and not isinstance(name, str)) or (
            variables is not None and not isinstance(variables, dict)
        ):
            return None
        caller: Caller = getattr(request.state, "caller", None) or ANONYMOUS
        plan = self.plan(data["query"], name, caller.role)
        if plan is None:
            return None
        db = getattr(request.state, "db", None) or request.app.state.db
        try:
            body = await self.answer(plan, variables or {}, db)
        except NotCompiled as reason:
            log.debug("executed, not compiled: %s", reason)
            return None
        request.state.graphql_operation = plan.name
        return Response(body, media_type=media_type)

    async def answer(self, plan: Plan, raw_variables: dict[str, Any], db: Any) -> bytes:
        """The whole response body of one request of a plan."""
        statements = self._prepared(plan, raw_variables)
        try:
            async with db.acquire() as conn:
                if conn.is_in_transaction():
                    # A savepoint: a statement that fails leaves the caller's transaction (an
                    # Idempotency-Key's) usable for the executor's attempt.
                    async with conn.transaction():
                        members = [(s.key, await s.run(conn)) for s in statements]
                else:
                    members = [(s.key, await s.run(conn)) for s in statements]
        except NotCompiled:
            raise
        except Exception as error:
            # The executor runs the request again and answers, logs or masks the failure as it
            # always does; anything but the database's own refusal is worth a line here too.
            if not isinstance(error, asyncpg.PostgresError):
                log.warning("a compiled read failed; the executor answers it", exc_info=True)
            raise NotCompiled(type(error).__name__) from error
        return ('{"data": ' + _object(members) + "}").encode()

    def _prepared(self, plan: Plan, raw_variables: dict[str, Any]) -> list[Statement]:
        """The statements of a plan for these variables, kept for the next request with them.

        What they are follows from the document, the role and the variables alone: dashboards
        that send the same question again skip coercing, costing and writing SQL.
        """
        key = json.dumps(raw_variables, sort_keys=True)
        keep = len(key) <= PREPARED_VARIABLES_BYTES
        statements = plan.prepared.get(key) if keep else None
        if statements is not None:
            plan.prepared.move_to_end(key)
            return statements
        variables = get_variable_values(
            self.schema, plan.operation.variable_definitions or (), raw_variables
        )
        if isinstance(variables, list):
            raise NotCompiled("variables that do not coerce")
        if check_cost(self.schema, plan.document, self.limits, variables.coerced):
            raise NotCompiled("over the cost limit")
        try:
            statements = [self._statement(root, variables) for root in plan.roots]
        except REFUSALS as error:
            raise NotCompiled(type(error).__name__) from error
        if not keep:
            return statements
        if len(plan.texts) > PREPARED_PER_PLAN:
            plan.texts.clear()
        statements = [replace(s, sql=plan.texts.setdefault(s.sql, s.sql)) for s in statements]
        plan.prepared[key] = statements
        if len(plan.prepared) > PREPARED_PER_PLAN:
            plan.prepared.popitem(last=False)
        if plan.cache_key is not None:
            self.plans.put(plan.cache_key, plan, _plan_bytes(plan))  # counted as it grows
        return statements

    def _arguments(self, selected: Selected, variables: VariableValues) -> dict[str, Any]:
        """The field's arguments as its resolver would receive them; none when the document
        gives none (the resolvers' defaults are those of the schema)."""
        assert selected.definition is not None
        if not selected.node.arguments:
            return {}
        raw = get_argument_values(selected.definition, selected.node, variables)
        strawberry_field = selected.definition.extensions["strawberry-definition"]
        try:
            return convert_arguments(
                raw,
                strawberry_field.arguments,
                scalar_registry=self.strawberry.schema_converter.scalar_registry,
                config=self.strawberry.config,
            )
        except Exception as error:  # the resolver would meet the same conversion error
            raise NotCompiled("arguments that do not convert") from error

    def _statement(self, root: Selected, variables: VariableValues) -> Statement:
        """The statement answering one top-level field."""
        args = self._arguments(root, variables)
        if root.name in ROOT_ONES:
            record = ROOT_ONES[root.name]
            column, value = lookup(args.get("id"), args.get("code"))
            params = Params()
            picks = self._picks(record, root.children, variables)
            sql = json_reads.one_statement(record, picks, column, params, value)
            return OneStatement(root.key, sql, tuple(params.values))
        record, make = ROOT_LISTS[root.name]
        first, after = args.pop("first", None), args.pop("after", None)
        query: ListQuery = make(**args)
        limit = page_size(first, self.max_page_size)
        keyset = query.keyset(after)
        # Each distinct selection of nodes (nodes, edges.node) is one JSON column.
        selections: list[tuple[Pick, ...]] = []
        for part in root.children:
            if part.name == "nodes":
                selections.append(self._picks(record, part.children, variables))
            elif part.name == "edges":
                for inner in part.children:
                    if inner.name == "node":
                        selections.append(self._picks(record, inner.children, variables))
        params = Params()
        conditions = query.conditions(params)
        sql = json_reads.page_statement(
            record, query.listing, conditions, params, query.order, keyset, limit + 1, selections
        )
        count_params = Params()
        count_sql = query.count(count_params)
        return PageStatement(
            root.key,
            sql,
            tuple(params.values),
            root,
            query.list_name,
            query.order_name,
            limit,
            after is not None,
            count_sql,
            tuple(count_params.values),
        )

    def _picks(
        self, record: str, selected: tuple[Selected, ...], variables: VariableValues
    ) -> tuple[Pick, ...]:
        """What the catalog writes for the fields selected on one record type."""
        out = []
        if selected and selected[0].parent.name != CATALOG[record].type_name:
            raise NotCompiled(f"{selected[0].parent.name} is not the catalog's {record}")
        fields = CATALOG[record].fields
        for s in selected:
            if s.name == "__typename":
                out.append(Pick(s.key, s.name, constant=_typename(s)))
                continue
            spec = fields.get(s.python_name)
            if spec is None:
                raise NotCompiled(f"{s.parent.name}.{s.name} is not in the catalog")
            if isinstance(spec, Value):
                out.append(Pick(s.key, s.python_name))
            elif isinstance(spec, One):
                out.append(
                    Pick(s.key, s.python_name, self._picks(spec.record, s.children, variables))
                )
            elif isinstance(spec, Many):
                args = self._arguments(s, variables)
                status = args.get("status")
                statuses = [v.value for v in status] if status is not None else None
                picks = self._picks(spec.record, s.children, variables)
                out.append(Pick(s.key, s.python_name, picks, statuses=statuses))
            else:
                out.append(self._page(s, spec, variables))
        return tuple(out)

    def _page(self, selected: Selected, spec: Page, variables: VariableValues) -> Pick:
        """A nested connection: nodes, totalCount and pageInfo's flags (no cursors)."""
        args = self._arguments(selected, variables)
        if args.get("after") is not None:
            raise NotCompiled("a cursor inside a nested page")
        limit = page_size(args.get("first"), self.max_page_size)
        parts = []
        for part in selected.children:
            if part.name == "__typename":
                parts.append(Pick(part.key, part.name, constant=_typename(part)))
            elif part.name == "nodes":
                parts.append(
                    Pick(part.key, "nodes", self._picks(spec.record, part.children, variables))
                )
            elif part.name == "totalCount":
                parts.append(Pick(part.key, "total_count"))
            elif part.name == "pageInfo":
                flags = []
                for flag in part.children:
                    if flag.name == "__typename":
                        flags.append(Pick(flag.key, flag.name, constant=_typename(flag)))
                    elif flag.name in ("hasNextPage", "hasPreviousPage"):
                        flags.append(Pick(flag.key, flag.python_name))
                    else:
                        raise NotCompiled("cursors of a nested page")
                parts.append(Pick(part.key, "page_info", tuple(flags)))
            else:
                raise NotCompiled("edges of a nested page")
        return Pick(selected.key, selected.python_name, tuple(parts), limit=limit)
