"""Limits of one GraphQL document: depth, aliases, tokens and cost -> QUERY_TOO_COMPLEX (HTTP 400).

- tokens: graphql-core's parser stops after `max_tokens` (the error is coded in errors.py);
- depth and aliases: validation rules that depend on the document only, so the document cache
  (documents.py) keeps their verdict;
- cost: a validation rule run for every request with its variables (a cached verdict would let a
  document that once came with `first: 5` through with `first: 500`), on both read paths (the
  compiled reads check it too) before any statement runs. The cost of a document is the number
  of fields the executor may resolve for it: every selected field counts 1 each time it is
  resolved, so what a list selects counts once for each item the list may hold. A connection's
  `nodes` and `edges` hold its `first` (its default when absent, the largest page when a
  variable does not say); any other list holds at most its bound (LIST_BOUNDS, in items; the
  largest page for a list without one). Nested lists multiply, aliases add, and a selection
  that @skip/@include leave out with this request's variables counts nothing.
- suggestions ("Did you mean ...?") can be removed from every message.

Fragments are expanded where they are spread (each spread counts), memoised per fragment so a
document cannot make the rules themselves slow; introspection fields (`__schema`, `__type`,
`__typename`) do not count towards depth or cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)
from graphql.pyutils import Undefined
from strawberry.extensions import SchemaExtension

from api.settings import Settings

CODE = "QUERY_TOO_COMPLEX"
_TOKEN_LIMIT = re.compile(r"Document contains more than \d+ tokens")
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)

# A connection's `nodes` and `edges` hold as many items as its `first` asks for.
CONNECTION = "Connection"
PAGE_LISTS = frozenset({"nodes", "edges"})

# The most items each list without `first` holds, for the cost: what the records of a national
# programme give such a list, with room (the synthetic "large" set of bench/generate.py, sized
# like the largest programmes, stays well within each). A list longer than its bound is still
# answered in full; MAR_REQUEST_TIMEOUT bounds what such data costs. MAR_LIST_BOUNDS overrides.
LIST_BOUNDS: Mapping[str, int] = {
    # An operator fields a few teams to a hundred in one country (large set: 20 on average).
    "Organisation.teams": 100,
    # A team works a task for weeks to months: a few hundred over its life (large set: ~56).
    "Team.tasks": 200,
    # A task is worked by one team or a few (large set: 1 to 3).
    "Task.teams": 10,
    # Reports come weekly or monthly over a task's months or years (large set: 1 to ~10).
    "Task.progressReports": 100,
    # A task releases its zone in a few parts: survey, reduction, clearance (large set: 0 to 3).
    "Task.releases": 20,
    # A zone is surveyed, reduced and cleared by a few tasks, some resumed (large set: 0 to 3).
    "Zone.tasks": 20,
    # Every release of a zone by any task, or none (large set: up to ~6).
    "Zone.releases": 50,
    # People hurt by one explosion: one to tens; mass-casualty events are rare (large set: <= 8).
    "Incident.casualties": 100,
    # Finds reported at once: 8 categories by 3 disposals, a few with a place (large set: 0-3).
    "ProgressReport.devices": 25,
    # Statistics refuse answers of more than MAX_GROUPS (api/graphql/statistics.py) groups.
    "CasualtyStatistics.groups": 10_000,
    "LandReleaseStatistics.groups": 10_000,
    "DeviceStatistics.groups": 10_000,
}


@dataclass(frozen=True)
class QueryLimits:
    """The limits one document must stay within (see .env.example)."""

    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_cost: int = 120_000
    max_page_size: int = 500
    suggestions: bool = True
    list_bounds: Mapping[str, int] = field(default_factory=lambda: dict(LIST_BOUNDS))

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        """The limits configured for the service."""
        return cls(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_cost=settings.max_cost,
            max_page_size=settings.max_page_size,
            suggestions=settings.suggestions,
            list_bounds={**LIST_BOUNDS, **dict(settings.list_bounds)},
        )


def too_complex(message: str, node: Any, **details: int) -> GraphQLError:
    """A validation error with the QUERY_TOO_COMPLEX code (HTTP 400 when nothing ran)."""
    return GraphQLError(message, node, extensions={"code": CODE, **details})


def is_token_limit(error: GraphQLError) -> bool:
    """Whether the parser gave up because the document has too many tokens."""
    return bool(_TOKEN_LIMIT.search(error.message))


def without_suggestion(message: str) -> str:
    """The message without graphql-core's "Did you mean ...?" hint."""
    return _SUGGESTION.sub("", message)


class _Document:
    """Fragment lookups with memoised per-fragment figures."""

    def __init__(self, context: ValidationContext) -> None:
        self.fragments: dict[str, FragmentDefinitionNode] = {
            d.name.value: d
            for d in context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[tuple[str, str], int] = {}

    def fragment(self, kind: str, name: str, compute: Any) -> int:
        """`compute(fragment)` once per (figure, fragment); 0 for unknown or cyclic fragments."""
        key = (kind, name)
        if key not in self.memo:
            found = self.fragments.get(name)
            self.memo[key] = 0  # a cycle (refused by another rule) counts nothing
            if found is not None:
                self.memo[key] = compute(found)
        return self.memo[key]


def _depth(doc: _Document, selection_set: SelectionSetNode | None) -> int:
    deepest = 0
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            deepest = max(deepest, 1 + _depth(doc, selection.selection_set))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(doc, selection.selection_set))
        elif isinstance(selection, FragmentSpreadNode):
            figure = doc.fragment(
                "depth", selection.name.value, lambda f: _depth(doc, f.selection_set)
            )
            deepest = max(deepest, figure)
    return deepest


def _aliases(doc: _Document, selection_set: SelectionSetNode | None) -> int:
    count = 0
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            count += (selection.alias is not None) + _aliases(doc, selection.selection_set)
        elif isinstance(selection, InlineFragmentNode):
            count += _aliases(doc, selection.selection_set)
        elif isinstance(selection, FragmentSpreadNode):
            count += doc.fragment(
                "aliases", selection.name.value, lambda f: _aliases(doc, f.selection_set)
            )
    return count


def depth_rule(limits: QueryLimits) -> type[ValidationRule]:
    """A rule refusing operations nested deeper than `limits.max_depth` fields."""

    class MaxDepth(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            depth = _depth(_Document(self.context), node.selection_set)
            if depth > limits.max_depth:
                self.report_error(
                    too_complex(
                        f"The query is {depth} levels deep; at most {limits.max_depth} are allowed",
                        node,
                        depth=depth,
                        maxDepth=limits.max_depth,
                    )
                )

    return MaxDepth


def alias_rule(limits: QueryLimits) -> type[ValidationRule]:
    """A rule refusing operations with more than `limits.max_aliases` aliased fields."""

    class MaxAliases(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            count = _aliases(_Document(self.context), node.selection_set)
            if count > limits.max_aliases:
                self.report_error(
                    too_complex(
                        f"The query uses {count} aliases; at most {limits.max_aliases} are allowed",
                        node,
                        aliases=count,
                        maxAliases=limits.max_aliases,
                    )
                )

    return MaxAliases


def _list_items(definition: Any) -> bool:
    """Whether a field returns a list (of objects, for the fields the cost looks at)."""
    kind = definition.type
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


class _Coster:
    """The cost of one operation, given the request's variables."""

    def __init__(
        self,
        context: ValidationContext,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        limits: QueryLimits,
    ) -> None:
        self.schema: GraphQLSchema = context.schema
        self.doc = _Document(context)
        self.limits = limits
        self.max_page = limits.max_page_size
        self.bounds = dict(limits.list_bounds)
        self.variables = dict(variables)
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            default = definition.default_value
            if self.variables.get(name) is None and default is not None:
                self.variables[name] = value_from_ast_untyped(default)

    def page(self, node: FieldNode, definition: Any) -> int | None:
        """The `first` of a page field (None for other fields), within 0..max_page."""
        argument = definition.args.get("first")
        if argument is None:
            return None
        size: object = argument.default_value
        for given in node.arguments or ():
            if given.name.value != "first":
                continue
            if isinstance(given.value, IntValueNode):
                size = int(given.value.value)
            elif isinstance(given.value, VariableNode):
                # A variable not sent (or null) leaves the argument's default; a value of the
                # wrong type counts as the largest page (coercion refuses it later).
                sent = self.variables.get(given.value.name.value)
                size = argument.default_value if sent is None else sent
            else:
                size = self.max_page  # null or a literal of the wrong type: refused later
        if size is None or size is Undefined:
            size = 50  # what pagination.page_size() takes for a missing `first`
        if not isinstance(size, int) or isinstance(size, bool):
            size = self.max_page
        return max(0, min(size, self.max_page))

    def included(self, selection: Any) -> bool:
        """Whether @skip/@include keep a selection with this request's variables (a condition
        that is not a boolean counts as kept: coercion refuses it later)."""
        for directive in selection.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            for argument in directive.arguments or ():
                if argument.name.value != "if":
                    continue
                value = argument.value
                condition: object = None
                if isinstance(value, BooleanValueNode):
                    condition = value.value
                elif isinstance(value, VariableNode):
                    condition = self.variables.get(value.name.value)
                if isinstance(condition, bool) and condition == (name == "skip"):
                    return False
        return True

    def items(self, parent: Any, name: str, definition: Any, page: int) -> int:
        """How many items a field may return: 1, the page of a connection's nodes and edges,
        or the bound of a list (the largest page for a list with no bound set)."""
        if not _list_items(definition):
            return 1
        if parent.name.endswith(CONNECTION) and name in PAGE_LISTS:
            return page
        return self.bounds.get(f"{parent.name}.{name}", self.max_page)

    def listed(self, node: FieldNode) -> int:
        """How many records a field of `ids` (nodes) may return: as many as it names."""
        for given in node.arguments or ():
            if given.name.value != "ids":
                continue
            if isinstance(given.value, ListValueNode):
                return max(1, min(len(given.value.values), self.max_page))
            if isinstance(given.value, VariableNode):
                sent = self.variables.get(given.value.name.value)
                if isinstance(sent, list):
                    return max(1, min(len(sent), self.max_page))
            return 1  # a single id, coerced to a list of one
        return self.max_page

    def cost(self, selection_set: SelectionSetNode | None, parent: Any, page: int = 1) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(selection.selection_set, inner, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.doc.fragment(
                    f"cost/{page}",
                    selection.name.value,
                    lambda f: self.cost(
                        f.selection_set, self.schema.get_type(f.type_condition.name.value), page
                    ),
                )
        return total

    def field(self, node: FieldNode, parent: Any, page: int) -> int:
        """The fields resolved for one selected field: itself, and for each object it returns
        (as many as its list may hold) what is selected on it."""
        name = node.name.value
        if name.startswith("__"):
            return 0
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0  # an unknown field: another rule refuses it
        inner = get_named_type(definition.type)
        if is_leaf_type(inner) or node.selection_set is None:
            return 1
        first = self.page(node, definition)
        # `nodes(ids:)` returns as many records as it names.
        if "ids" in definition.args:
            items = self.listed(node)
        else:
            items = self.items(parent, name, definition, page)
        inside = self.cost(node.selection_set, inner, 1 if first is None else first)
        return 1 + items * inside


class MaxCost(ValidationRule):
    """Refuses operations whose cost is over `limits.max_cost` (see cost_rule for the variables)."""

    limits: ClassVar[QueryLimits] = QueryLimits()
    variables: ClassVar[Mapping[str, Any]] = {}

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
        limits = self.limits
        root = self.context.schema.get_root_type(node.operation)
        cost = _Coster(self.context, node, self.variables, limits).cost(node.selection_set, root)
        if cost > limits.max_cost:
            self.report_error(
                too_complex(
                    f"The query may resolve {cost} fields; at most {limits.max_cost} are "
                    "allowed (what a list selects counts once per item it may hold, its "
                    "`first` or its bound, so nested lists multiply: ask for smaller pages, "
                    "fewer fields or fewer nested lists)",
                    node,
                    cost=cost,
                    maxCost=limits.max_cost,
                )
            )


def cost_rule(limits: QueryLimits, variables: Mapping[str, Any]) -> type[MaxCost]:
    """The cost rule for `limits` and one request's variables."""

    class Bound(MaxCost):
        pass

    Bound.limits = limits
    Bound.variables = variables
    return Bound


def check_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    limits: QueryLimits,
    variables: Mapping[str, Any] | None,
) -> list[GraphQLError]:
    """Run the cost rule on each operation of a document.

    The same verdict as `validate(schema, document, [cost_rule(...)])`, at a twentieth of its
    price: the rule looks at operations only, so the whole document need not be visited.
    """
    errors: list[GraphQLError] = []
    context = ValidationContext(schema, document, TypeInfo(schema), errors.append)
    rule = cost_rule(limits, variables or {})(context)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            rule.enter_operation_definition(definition)
    return errors


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    limits: QueryLimits,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
) -> int:
    """The cost of the operation(s) of a document a request selects, as the cost rule counts it
    (a batch's operations are limited by the sum of theirs)."""
    context = ValidationContext(schema, document, TypeInfo(schema), lambda _error: None)
    total = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is not None and (
            definition.name is None or definition.name.value != operation_name
        ):
            continue
        root = schema.get_root_type(definition.operation)
        coster = _Coster(context, definition, variables or {}, limits)
        total += coster.cost(definition.selection_set, root)
    return total


def limits_extension(limits: QueryLimits) -> type[SchemaExtension]:
    """The schema extension applying `limits`; list it after the document cache (on_validate)."""
    static_rules = (depth_rule(limits), alias_rule(limits))

    class Limits(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            context.parse_options["max_tokens"] = limits.max_tokens
            context.validation_rules = context.validation_rules + static_rules
            yield
            errors = getattr(context.result, "errors", None)
            if errors and not limits.suggestions:
                for error in errors:
                    error.message = without_suggestion(error.message)
                    error.args = (error.message,)

        def on_validate(self) -> Iterator[None]:
            # Runs after the document cache (documents.py) has stored its verdict in
            # pre_execution_errors (or before the standard validation when there is no cache: then
            # only a refusal is stored, which skips the standard rules, as it should for a
            # document refused anyway).
            context = self.execution_context
            document = context.graphql_document
            if not context.pre_execution_errors and document is not None:
                errors = check_cost(context.schema._schema, document, limits, context.variables)
                if errors:
                    context.pre_execution_errors = errors
            yield

    return Limits
