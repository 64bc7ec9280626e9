"""Batched GraphQL requests: a JSON array of operations in one POST, answered by an array in the
same order.

A batch is held to what its operations would be held to one by one: at most MAR_MAX_BATCH of
them (over it, QUERY_TOO_COMPLEX), the sum of their costs within MAR_MAX_COST (QUERY_TOO_COMPLEX),
and a token of the rate limit for each (RATE_LIMITED, nothing spent). They run one after another,
so a mutation sees the writes of those before it. An Idempotency-Key names one operation's
effect: a batch carrying one is refused (BAD_USER_INPUT); send such mutations one by one.
"""

from __future__ import annotations

import math
from typing import Any

from graphql import GraphQLError, GraphQLSchema, parse
from starlette.requests import Request

from api import json_body
from api.graphql.limits import QueryLimits, operation_cost
from api.graphql.persisted import DocumentRefused
from api.json_body import BadJson
from api.ratelimit import TokenBuckets, bucket_key


class BatchRefused(DocumentRefused):
    """A batch refused as a whole (with the headers that go with it)."""

    def __init__(
        self, code: str, message: str, status: int, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code, message, status)
        self.headers = headers or {}


def is_batch(body: bytes) -> bool:
    """Whether a request body is a JSON array (a batch), without decoding it."""
    return body.lstrip()[:1] == b"["


def admit(
    request: Request, body: bytes, schema: GraphQLSchema, limits: QueryLimits, max_batch: int
) -> None:
    """Raise BatchRefused unless the batch of `body` may run; spends its rate limit tokens."""
    try:
        operations: Any = json_body.decode(body)
    except BadJson:
        return  # strawberry refuses a body that is not JSON, saying why
    if not isinstance(operations, list):
        return
    if request.headers.get("idempotency-key") is not None:
        raise BatchRefused(
            "BAD_USER_INPUT",
            "A batch cannot carry an Idempotency-Key: send the mutation it protects on its own",
            400,
        )
    if not operations:
        raise BatchRefused("BAD_USER_INPUT", "The batch holds no operation", 400)
    if len(operations) > max_batch:
        raise BatchRefused(
            "QUERY_TOO_COMPLEX",
            f"A batch holds at most {max_batch} operations, not {len(operations)}",
            400,
        )
    total = sum(_cost(schema, limits, operation) for operation in operations)
    if total > limits.max_cost:
        raise BatchRefused(
            "QUERY_TOO_COMPLEX",
            f"The batch may return {total} objects in all; at most {limits.max_cost} are "
            "allowed (the costs of its operations add up)",
            400,
        )
    buckets: TokenBuckets | None = request.scope.get("state", {}).get("rate_buckets")
    if buckets is not None and len(operations) > 1:
        # The rate limiter took one token for the request: the others, one per operation.
        wait = buckets.take(bucket_key(request.scope), len(operations) - 1)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise BatchRefused(
                "RATE_LIMITED",
                f"A batch of {len(operations)} operations spends as many requests of the rate "
                f"limit; try again in {retry_after} s",
                429,
                {"Retry-After": str(retry_after)},
            )


def _cost(schema: GraphQLSchema, limits: QueryLimits, operation: object) -> int:
    """One operation's cost (0 when it will be refused on its own: its answer says why)."""
    if not isinstance(operation, dict) or not isinstance(operation.get("query"), str):
        return 0
    variables = operation.get("variables")
    name = operation.get("operationName")
    try:
        document = parse(operation["query"], max_tokens=limits.max_tokens)
        return operation_cost(
            schema,
            document,
            limits,
            variables if isinstance(variables, dict) else None,
            name if isinstance(name, str) else None,
        )
    except GraphQLError:
        return 0
