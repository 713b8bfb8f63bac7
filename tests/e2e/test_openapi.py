"""The OpenAPI document the gateway serves: valid OpenAPI 3.1, the one gateway/openapi.py
makes from the contracts, and true to what Envoy's transcoder accepts and returns: its
own examples go through the real gateway and what comes back fits its schemas, and
requests generated from its schemas never get a 5xx."""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
import uuid

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from gateway.openapi import document
from services.common.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

SPEC_PATH = "/v1/openapi.json"
# Property-based requests per operation: enough to probe each, short enough for CI
# (the whole run stays well under a minute).
CASES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def spec(suite) -> dict:
    reply = suite_request(suite, "GET", SPEC_PATH, token=None)
    assert reply[0] == 200, reply
    return json.loads(reply[2])


def suite_request(suite, method: str, path: str, body=None, token: str | None = "", query=""):
    """(status, headers, raw body). token "" means the suite's admin token, None none."""
    headers = {"content-type": "application/json"}
    if token == "" and hasattr(suite, "token"):
        token = suite.token(roles=("admin",))
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        suite.url + path + query, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def schema_of(spec: dict, schema: dict) -> dict:
    """A standalone JSON Schema: the operation's schema with the components beside it."""
    return {**schema, "components": spec["components"]}


def strict(schema):
    """The schema with no room for fields it does not name: a reply must carry only
    documented fields (a request may carry more: the gateway ignores them)."""
    if isinstance(schema, dict):
        found = {k: strict(v) for k, v in schema.items()}
        if "properties" in schema and "@type" not in schema["properties"]:  # Any is open
            found.setdefault("additionalProperties", False)
        return found
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def check(spec: dict, schema: dict, value) -> None:
    jsonschema.Draft202012Validator(strict(schema_of(spec, schema))).validate(value)


def operations(spec: dict):
    for path, verbs in spec["paths"].items():
        for verb, op in verbs.items():
            yield path, verb, op


def reply_schema(op: dict) -> tuple[str, dict]:
    (media, content), *_ = op["responses"]["200"]["content"].items()
    return media, content["schema"]


def test_the_document_is_valid_openapi_3_1_and_made_from_the_contracts(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    # The gateway serves exactly what the generator makes of the descriptor set.
    assert spec == json.loads(json.dumps(document(PROJECT_ROOT / "build" / "aiorch.pb")))
    routes = {(verb, path) for path, verb, _ in operations(spec)}
    assert ("post", "/v1/classifier/classify") in routes
    assert ("get", "/v1/ai-orchestration/workflows/{workflow_id}/status") in routes
    classify = spec["paths"]["/v1/classifier/classify"]["post"]
    assert classify["description"]  # from the contract's comment
    request = spec["components"]["schemas"]["ClassifyRequest"]
    assert {"text", "labels", "include_keywords"} <= set(request["properties"])
    workflow = spec["components"]["schemas"]["Workflow"]["properties"]
    assert workflow["created_at"]["format"] == "date-time"
    assert spec["components"]["schemas"]["WorkflowStatus"]["enum"][0].startswith("WORKFLOW_")


def test_the_document_needs_no_token(suite):
    status, headers, body = suite_request(suite, "GET", SPEC_PATH, token=None)
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body)["openapi"]
    status, _, _ = suite_request(suite, "POST", SPEC_PATH, {}, token=None)
    assert status in (401, 404, 405)


def test_every_example_goes_through_the_gateway_and_the_reply_fits(suite, spec):
    sent = 0
    workflow_id = None
    for path, verb, op in operations(spec):
        content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        params = [p for p in op.get("parameters", []) if p["in"] == "query" and "example" in p]
        media, schema = reply_schema(op)
        if "{" in path or verb != ("post" if content else "get") or media != "application/json":
            continue  # the endless metrics stream too: the workflow's events are checked below
        if content:
            body = content["examples"]["example"]["value"]
            status, _, raw = suite_request(suite, verb.upper(), path, body)
        else:
            query = "&".join(
                f"{p['name']}={json.dumps(p['example']).strip(chr(34))}" for p in params
            )
            status, _, raw = suite_request(suite, "GET", path, query=f"?{query}" if query else "")
        assert status == 200, (verb, path, raw[:500])
        reply = json.loads(raw)
        check(spec, schema, reply)
        sent += 1
        if path == "/v1/ai-orchestration/workflows":
            assert reply["workflow"]["status"] == "WORKFLOW_STATUS_SUCCEEDED"
            workflow_id = reply["workflow"]["workflow_id"]
    assert sent >= 15 and workflow_id

    # The routes with the workflow's id in the path, and its stream of events as NDJSON.
    for path, verb, op in operations(spec):
        if "{workflow_id}" not in path:
            continue
        status, _, raw = suite_request(
            suite, verb.upper(), path.replace("{workflow_id}", workflow_id)
        )
        assert status == 200, (verb, path, raw[:500])
        media, schema = reply_schema(op)
        lines = raw.decode().splitlines() if media == "application/x-ndjson" else [raw]
        assert lines
        for line in lines:
            check(spec, schema, json.loads(line))


def example(spec: dict, verb: str, path: str) -> dict:
    content = spec["paths"][path][verb]["requestBody"]["content"]["application/json"]
    return copy.deepcopy(content["examples"]["example"]["value"])


def test_the_chat_stream_example_streams_lines_that_fit_and_the_id_routes_work(suite, spec):
    """The streamed chat over the documents example, each NDJSON line checked against its
    schema; then the routes named by {source_id} and {session_id}."""
    # A user of this test's own: the documents and sessions it deletes are no one else's.
    token = suite.token(sub=f"openapi-{uuid.uuid4().hex[:8]}")
    assistant = "/v1/assistant"
    document_example = example(spec, "post", f"{assistant}/documents")
    status, _, raw = suite_request(
        suite, "POST", f"{assistant}/documents", document_example, token=token
    )
    assert status == 200, raw[:500]
    check(spec, reply_schema(spec["paths"][f"{assistant}/documents"]["post"])[1], json.loads(raw))

    stream = spec["paths"][f"{assistant}/chat/stream"]["post"]
    media, schema = reply_schema(stream)
    assert media == "application/x-ndjson"
    body = example(spec, "post", f"{assistant}/chat/stream")
    status, _, raw = suite_request(suite, "POST", f"{assistant}/chat/stream", body, token=token)
    assert status == 200, raw[:500]
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    for line in lines:
        check(spec, schema, line)
    *pieces, last = lines
    assert pieces and all(set(piece) == {"delta"} for piece in pieces)
    answer = last["answer"]
    assert "".join(piece["delta"] for piece in pieces) == answer["answer"]
    assert answer["citations"][0]["source_id"] == document_example["source_id"]

    # {source_id}: delete the document, then again (now NOT_FOUND, in the error shape).
    error_schema = spec["components"]["responses"]["Error"]["content"]["application/json"]
    document = f"{assistant}/documents/{{source_id}}"
    path = document.replace("{source_id}", document_example["source_id"])
    status, _, raw = suite_request(suite, "DELETE", path, token=token)
    assert status == 200, raw[:500]
    check(spec, reply_schema(spec["paths"][document]["delete"])[1], json.loads(raw))
    status, _, raw = suite_request(suite, "DELETE", path, token=token)
    assert status == 404, raw[:500]
    check(spec, error_schema["schema"], json.loads(raw))

    # {session_id}: create one (the example), get it, delete it, and it is gone; the chat's
    # own session goes the same way.
    status, _, raw = suite_request(
        suite, "POST", f"{assistant}/sessions", example(spec, "post", f"{assistant}/sessions"),
        token=token,
    )  # fmt: skip
    assert status == 200, raw[:500]
    check(spec, reply_schema(spec["paths"][f"{assistant}/sessions"]["post"])[1], json.loads(raw))
    created = json.loads(raw)["session"]
    session = f"{assistant}/sessions/{{session_id}}"
    for session_id in (created["session_id"], answer["session_id"]):
        path = session.replace("{session_id}", session_id)
        status, _, raw = suite_request(suite, "GET", path, token=token)
        assert status == 200, raw[:500]
        got = json.loads(raw)
        check(spec, reply_schema(spec["paths"][session]["get"])[1], got)
        assert got["session"]["session_id"] == session_id
        status, _, raw = suite_request(suite, "DELETE", path, token=token)
        assert status == 200, raw[:500]
        check(spec, reply_schema(spec["paths"][session]["delete"])[1], json.loads(raw))
        status, _, raw = suite_request(suite, "GET", path, token=token)
        assert status == 404, raw[:500]
        check(spec, error_schema["schema"], json.loads(raw))


def test_errors_are_the_documented_status_shape(suite, spec):
    status_schema = spec["components"]["responses"]["Error"]["content"]["application/json"]
    status, _, raw = suite_request(suite, "POST", "/v1/classifier/classify", {"text": "x"})
    assert status == 400
    check(spec, status_schema["schema"], json.loads(raw))
    status, _, raw = suite_request(
        suite, "GET", "/v1/ai-orchestration/workflows/00000000-0000-4000-8000-000000000000/status"
    )
    assert status == 404
    check(spec, status_schema["schema"], json.loads(raw))


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))


def values_of(schema: dict, components: dict, depth: int = 0) -> st.SearchStrategy:
    """Values that fit `schema` (the subset of JSON Schema the generator writes)."""
    if "$ref" in schema:
        return values_of(components[schema["$ref"].rsplit("/", 1)[1]], components, depth)
    if "allOf" in schema:
        return values_of(schema["allOf"][0], components, depth)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([values_of({**schema, "type": k}, components, depth) for k in kind])
    if kind == "object":
        extra = schema.get("additionalProperties", True)
        if depth > 4 or (extra is False and not schema.get("properties")):
            return st.just({})
        if schema.get("properties"):
            return st.fixed_dictionaries(
                {},
                optional={
                    name: values_of(field, components, depth + 1)
                    for name, field in schema["properties"].items()
                },
            )
        values = values_of(extra, components, depth + 1) if extra is not True else JSON_VALUES
        return st.dictionaries(st.text(max_size=12), values, max_size=3)
    if kind == "array":
        return st.lists(values_of(schema["items"], components, depth + 1), max_size=4)
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        if schema.get("format") == "date-time":
            return st.datetimes().map(lambda t: t.isoformat() + "Z")
        return st.text(max_size=200)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return JSON_VALUES


def request_strategies(spec: dict):
    """(label, strategy of (method, path, body, query)) for every operation without a
    path parameter; streams are left out (they never end)."""
    components = spec["components"]["schemas"]
    for path, verb, op in operations(spec):
        if "{" in path or reply_schema(op)[0] == "application/x-ndjson":
            continue
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if content:
            body = values_of(content["schema"], components)
            yield f"{verb} {path}", body.map(lambda b, v=verb, p=path: (v, p, b, ""))
            continue
        params = [p for p in op.get("parameters", []) if p["in"] == "query"]
        query = st.fixed_dictionaries(
            {},
            optional={p["name"]: values_of(p["schema"], components) for p in params},
        )
        yield f"{verb} {path}", query.map(lambda q, v=verb, p=path: (v, p, None, q))


def encode_query(values: dict) -> str:
    from urllib.parse import urlencode

    pairs = []
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, json.dumps(item) if isinstance(item, bool) else str(item)))
    return "?" + urlencode(pairs) if pairs else ""


def test_generated_requests_never_get_a_5xx(suite, spec):
    """Bodies and query strings drawn from the document's own schemas, through the real
    gateway: every answer is a success or a 4xx, never a server error."""
    strategies = dict(request_strategies(spec))
    assert len(strategies) >= 15
    answers: dict[str, set[int]] = {}
    failures = []
    token = suite.token(roles=("admin",)) if hasattr(suite, "token") else None
    started = time.monotonic()

    def send(label: str, case) -> None:
        verb, path, body, query = case
        if verb == "get":
            reply = suite_request(suite, "GET", path, token=token, query=encode_query(query))
        else:
            reply = suite_request(suite, verb.upper(), path, body, token=token)
        answers.setdefault(label, set()).add(reply[0])
        if reply[0] >= 500:
            failures.append((label, case, reply[0], reply[2][:300]))

    def probe(label: str, strategy):
        @settings(
            max_examples=CASES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def run(case):
            send(label, case)

        return run

    for label, strategy in strategies.items():
        probe(label, strategy)()
    assert not failures, failures[:5]
    assert time.monotonic() - started < 120  # a guard against a runaway, not a speed claim
    # The probes reached the services, not only the gateway's own checks.
    assert any(200 in codes for codes in answers.values()), answers


def test_unknown_request_fields_are_ignored_as_the_document_says(suite, spec):
    """The transcoder ignores a field it does not know; the document allows one."""
    content = spec["paths"]["/v1/embeddings/embed"]["post"]["requestBody"]["content"]
    body = copy.deepcopy(content["application/json"]["examples"]["example"]["value"])
    body["no_such_field"] = 1
    schema = schema_of(spec, content["application/json"]["schema"])
    jsonschema.Draft202012Validator(schema).validate(body)
    status, _, raw = suite_request(suite, "POST", "/v1/embeddings/embed", body)
    assert status == 200, raw
    assert "no such field" in spec["info"]["description"].replace("unknown fields", "no such field")
