"""Every name of API.md's GraphQL contract is in the schema the code builds, typed the same way."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    parse,
    value_from_ast_untyped,
)
from graphql.language import (
    EnumTypeDefinitionNode,
    InputObjectTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    TypeDefinitionNode,
    TypeNode,
    print_ast,
)

from api.graphql.schema import build_schema

CONTRACT = parse((Path(__file__).parent / "contract" / "api.graphql").read_text())

# Parts of the contract that later issues build; each must be absent until it is built, so that
# this list shrinks as they land (a name listed here but present fails the test).
PENDING: dict[str, str] = {}


def type_string(node: TypeNode) -> str:
    return print_ast(node)


def test_every_contract_name_is_in_the_schema() -> None:
    schema = build_schema()._schema
    missing: list[str] = []
    wrong: list[str] = []
    built: list[str] = []

    def absent(name: str) -> None:
        if name not in PENDING:
            missing.append(name)

    for definition in CONTRACT.definitions:
        assert isinstance(definition, TypeDefinitionNode)
        name = definition.name.value
        if name in PENDING:
            if schema.get_type(name) is not None:
                built.append(name)
            continue
        kind = schema.get_type(name)
        if kind is None:
            absent(name)
            continue
        if isinstance(definition, ScalarTypeDefinitionNode):
            assert isinstance(kind, GraphQLScalarType), name
        elif isinstance(definition, EnumTypeDefinitionNode):
            assert isinstance(kind, GraphQLEnumType), name
            for value in definition.values:
                if value.name.value not in kind.values:
                    missing.append(f"{name}.{value.name.value}")
        elif isinstance(definition, ObjectTypeDefinitionNode | InputObjectTypeDefinitionNode):
            assert isinstance(kind, GraphQLObjectType | GraphQLInputObjectType), name
            for field in definition.fields:
                path = f"{name}.{field.name.value}"
                if path in PENDING:
                    if field.name.value in kind.fields:
                        built.append(path)
                    continue
                actual = kind.fields.get(field.name.value)
                if actual is None:
                    absent(path)
                    continue
                if str(actual.type) != type_string(field.type):
                    wrong.append(f"{path}: {actual.type} instead of {type_string(field.type)}")
                for argument in getattr(field, "arguments", None) or ():
                    arg_path = f"{path}({argument.name.value})"
                    got = getattr(actual, "args", {}).get(argument.name.value)
                    if got is None:
                        missing.append(arg_path)
                        continue
                    if str(got.type) != type_string(argument.type):
                        wrong.append(f"{arg_path}: {got.type}, not {type_string(argument.type)}")
                    if argument.default_value is not None:
                        expected = value_from_ast_untyped(argument.default_value)
                        default = got.default_value
                        default = getattr(default, "value", default)
                        if default != expected:
                            wrong.append(f"{arg_path} defaults to {default!r}, not {expected!r}")
    assert missing == [], f"missing from the schema: {missing}"
    assert wrong == [], f"typed differently from the contract: {wrong}"
    assert built == [], f"built now, remove from PENDING: {built}"
