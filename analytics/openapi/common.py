"""The building blocks of the OpenAPI description (schema helpers and plain types), and
what the operations of /api/v1 share: their error answers, headers and parameters, and
how one is written (``operation``). The limits they state are imported from where the
code enforces them."""

from analytics.forms import API_MAX_PAGE_SIZE as MAX_PAGE_SIZE
from analytics.models import EventType

CALL_TYPES = list(EventType.values)

# --- building blocks --------------------------------------------------------------


def ref(name, kind="schemas"):
    return {"$ref": f"#/components/{kind}/{name}"}


def nullable(schema):
    return {"anyOf": [schema, {"type": "null"}]}


def fixed(*, required=None, **properties):
    """An object of exactly these properties, all of them always present unless
    ``required`` names fewer."""
    return {
        "type": "object",
        "required": list(properties if required is None else required),
        "properties": properties,
        "additionalProperties": False,
    }


STRING = {"type": "string"}
TEXT = {"type": "string", "minLength": 1}
COUNT = {"type": "integer", "minimum": 0}
FLAG = {"type": "boolean"}
MOMENT = {"type": "string", "format": "date-time"}
URL = {"type": "string", "format": "uri"}
DAY = {"type": "string", "format": "date"}
JSON_OBJECT = {"type": "object", "description": "Free-form JSON, as sent."}
CODE = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "description": "A machine-readable code."}


def page_of(item, **more):
    """A page of a list: ``{count, page, page_size, next, previous, results}``."""
    return fixed(
        count=COUNT,
        page={"type": "integer", "minimum": 1},
        page_size={"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        next={**nullable(URL), "description": "The next page with the same filters, or null."},
        previous={**nullable(URL), "description": "The previous page, or null."},
        results={"type": "array", "items": item},
        **more,
    )


# --- responses and parameters shared by operations --------------------------------


def answer(description, schema, *headers, example=None):
    content = {"schema": schema} if example is None else {"schema": schema, "example": example}
    response = {"description": description, "content": {"application/json": content}}
    if headers:
        response["headers"] = {name: ref(name, "headers") for name in headers}
    return response


HEADERS = {
    "WWW-Authenticate": {
        "required": True,
        "description": "The scheme to authenticate with.",
        "schema": {"const": "Bearer"},
    },
    "Retry-After": {
        "required": True,
        "description": "Seconds to wait before sending again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Allow": {"required": True, "description": "The methods this path takes.", "schema": STRING},
}
ERROR = ref("Error")


def error(code, schema=ERROR, field="error"):
    """An error shape whose code is always ``code``."""
    return {"allOf": [schema], "properties": {field: {"const": code}}}


# The answers operations of /api/v1 share, by status code.
API_RESPONSES = {
    "400": answer(
        "A malformed or unknown parameter; nothing was changed.", error("invalid_request")
    ),
    "401": answer(
        "No secret key, a wrong one, or the write key.", error("unauthorized"), "WWW-Authenticate"
    ),
    "404": answer("Nothing of that name in the key's workspace.", error("not_found")),
    "405": answer("A method this path does not take.", ERROR, "Allow"),
    "429": answer("Too many requests; wait as Retry-After says.", ERROR, "Retry-After"),
    "500": answer("The server failed; nothing was changed.", ERROR),
    "503": answer("The database is unreachable; retry later.", ERROR, "Retry-After"),
}


def responses(ok, *statuses, prefix="", **own):
    """An operation's responses: its 200, shared ones by status code, and its own."""
    shared = {status: ref(prefix + status, "responses") for status in statuses}
    return dict(sorted({"200": ok, **shared, **own}.items()))


def query(name, description, schema=STRING, **more):
    return {"name": name, "in": "query", "description": description, "schema": schema, **more}


def in_path(name, description, schema, example):
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
        "example": example,
    }


READ_ERRORS = ("400", "401", "405", "429", "500", "503")


def operation(
    operation_id, summary, ok, *, parameters=(), errors=READ_ERRORS, tag="Reading", example=None
):
    """An operation of the read/delete API."""
    return {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "parameters": list(parameters),
        "responses": responses(answer("OK", ok, example=example), *errors),
    }
