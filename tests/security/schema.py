"""The API's OpenAPI schema, read by the tests that go over every operation in it."""

from functools import cache

from drf_spectacular.generators import SchemaGenerator


@cache
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def resolve(node: dict | None) -> dict:
    while node and "$ref" in node:
        node = schema()["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node or {}


def operations():
    """(method, path, operation) for every operation in the schema."""
    for path, methods in schema()["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def body_properties(operation: dict) -> dict[str, dict]:
    """The writable properties of an operation's JSON body, by name."""
    content = operation.get("requestBody", {}).get("content", {})
    body = resolve(content.get("application/json", {}).get("schema"))
    return {
        name: resolve(prop) | prop
        for name, prop in body.get("properties", {}).items()
        if not prop.get("readOnly")
    }


def time_fields() -> list[tuple[str, str, str, str]]:
    """(method, path, "query" or "body", name) for every date-time that the API reads."""
    found = []
    for method, path, operation in operations():
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["schema"].get("format") == "date-time":
                found.append((method, path, "query", parameter["name"]))
        for name, prop in body_properties(operation).items():
            if prop.get("format") == "date-time":
                found.append((method, path, "body", name))
    return found


def json_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation that reads a JSON body."""
    return [
        (method, path)
        for method, path, operation in operations()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
