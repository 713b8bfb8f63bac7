"""Who may call, through the real Envoy: tokens, identity headers, roles, rate limits, CORS
and the edge's size limits.

Most tests use the shared suite. The rate limits and CORS origins need a gateway of their
own: one Envoy in front of one real monitor process, with small limits and an allowed
origin.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from aiorch.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from gateway import tokens
from services.common.settings import DEFAULT_ADDRS
from tools.suite import behind_envoy

from .conftest import E2E_USER, edge_for, free_addr

pytestmark = pytest.mark.e2e

TYPES = "/v1/ai-orchestration/workflows/types"
STATUS = "/v1/performance/status"
TRACK = "/v1/performance/activity/track"
SUMMARY = "/v1/performance/activity/summary"
ORIGIN = "https://app.example"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict | str


def send(addr: str, method: str, path: str, headers=None, body: bytes | dict | None = None):
    """One request, headers as given (http.client adds no defaults worth noting)."""
    host, port = addr.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    sent = dict(headers or {})
    if data is not None:
        sent.setdefault("content-type", "application/json")
    try:
        connection.request(method, path, body=data, headers=sent)
        reply = connection.getresponse()
        raw = reply.read()
        found = {k.lower(): v for k, v in reply.getheaders()}
    finally:
        connection.close()
    try:
        return Answer(reply.status, found, json.loads(raw))
    except ValueError:
        return Answer(reply.status, found, raw.decode(errors="replace"))


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def assert_unauthenticated(answer: Answer) -> None:
    assert answer.status == 401, answer
    assert answer.body["code"] == 16, answer.body
    assert answer.headers["www-authenticate"].startswith("Bearer"), answer.headers


# --- tokens ---------------------------------------------------------------------------


def test_a_call_without_a_token_answers_401_json_with_www_authenticate(suite):
    assert_unauthenticated(send(suite.settings.gateway_addr, "GET", TYPES))


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"nbf": int(time.time()) + 3600}, id="not-yet-valid"),
        pytest.param({"aud": "another-api"}, id="wrong-audience"),
        pytest.param({"iss": "https://issuer.example"}, id="wrong-issuer"),
    ],
)
def test_a_token_with_bad_claims_answers_401(suite, claims):
    answer = send(suite.settings.gateway_addr, "GET", TYPES, bearer(suite.token(**claims)))
    assert_unauthenticated(answer)
    assert "invalid_token" in answer.headers["www-authenticate"]


def test_a_token_signed_by_another_key_answers_401(suite, tmp_path):
    stranger = tokens.write_key_pair(tmp_path, kid=tokens.KEY_ID)  # same kid, other key
    token = stranger.sign(tokens.claims(E2E_USER))
    assert_unauthenticated(send(suite.settings.gateway_addr, "GET", TYPES, bearer(token)))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer not-a-jwt", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 4000],
)
def test_a_malformed_token_answers_401(suite, authorization):
    answer = send(suite.settings.gateway_addr, "GET", TYPES, {"authorization": authorization})
    assert_unauthenticated(answer)


def test_a_token_whose_signature_was_altered_answers_401(suite):
    header, payload, signature = suite.token().split(".")
    forged = tokens.claims("someone-else", ("admin",))
    payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    token = f"{header}.{payload}.{signature}"
    assert_unauthenticated(send(suite.settings.gateway_addr, "GET", TYPES, bearer(token)))


def test_readiness_is_open_and_the_openapi_document_needs_no_token(suite):
    ready = send(suite.settings.gateway_addr, "GET", "/ready")
    assert ready.status == 200, ready
    document = send(suite.settings.gateway_addr, "GET", "/v1/openapi.json")
    assert document.status == 200, str(document)[:300]
    assert document.body["openapi"].startswith("3.")


# --- identity headers -----------------------------------------------------------------


def test_a_spoofed_user_id_is_replaced_by_the_token_subject(suite):
    alice, mallory = f"alice-{uuid.uuid4()}", f"mallory-{uuid.uuid4()}"
    spoofed = suite.auth(alice) | {"x-user-id": mallory, "x-user-roles": "admin"}
    answer = send(suite.settings.gateway_addr, "POST", TRACK, spoofed, {"activity_type": "login"})
    assert answer.status == 200, answer
    admin = suite.auth("ops", ("admin",))
    window = "window=3600s"
    mine = send(suite.settings.gateway_addr, "GET", f"{SUMMARY}?user_id={alice}&{window}", admin)
    theirs = send(
        suite.settings.gateway_addr, "GET", f"{SUMMARY}?user_id={mallory}&{window}", admin
    )
    assert (int(mine.body["total"]), int(theirs.body["total"])) == (1, 0)


def test_a_spoofed_roles_header_grants_nothing(suite):
    spoofed = suite.auth() | {"x-user-roles": "admin", "x-admin-token": "guess"}
    answer = send(suite.settings.gateway_addr, "GET", "/v1/ai-orchestration/cache/stats", spoofed)
    assert answer.status == 403, answer
    assert answer.body["code"] == 7


def test_client_sent_grpc_headers_are_dropped(suite):
    headers = suite.auth() | {
        "grpc-previous-rpc-attempts": "x",
        "grpc-timeout": "garbage",
        "grpc-encoding": "snappy",
    }
    answer = send(suite.settings.gateway_addr, "GET", TYPES, headers)
    assert answer.status == 200, answer


def test_a_header_name_with_an_underscore_is_refused(suite):
    headers = suite.auth() | {"x_user_id": "mallory"}
    answer = send(suite.settings.gateway_addr, "GET", TYPES, headers)
    assert answer.status == 400 and answer.body["code"] == 3, answer


# --- roles ----------------------------------------------------------------------------

ADMIN_ONLY = [
    ("GET", "/v1/ai-orchestration/cache/stats", None),
    ("POST", "/v1/ai-orchestration/cache/invalidate", {"pattern": "nothing-matches-*"}),
    ("POST", "/v1/ai-orchestration/workflows/optimize", {}),
    ("POST", "/v1/performance/optimize", {}),
    ("GET", f"{SUMMARY}?user_id=somebody-else", None),
    ("GET", SUMMARY, None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
def test_admin_calls_answer_403_json_to_a_user_and_200_to_an_admin(suite, method, path, body):
    user = send(suite.settings.gateway_addr, method, path, suite.auth("plain-user"), body)
    assert user.status == 403, user
    assert user.body["code"] == 7
    admin = send(suite.settings.gateway_addr, method, path, suite.auth("ops", ("admin",)), body)
    assert admin.status == 200, admin


def test_a_user_reads_their_own_activity_summary(suite):
    user = f"reader-{uuid.uuid4()}"
    answer = send(suite.settings.gateway_addr, "GET", f"{SUMMARY}?user_id={user}", suite.auth(user))
    assert answer.status == 200, answer


def test_another_users_workflow_is_not_found_and_cannot_be_cancelled(suite):
    created = suite.request(
        "POST",
        "/v1/ai-orchestration/workflows",
        {"type": "embedding", "input": {"text": "private notes"}},
        user="owner-a",
    )
    assert created.status == 200, created
    workflow_id = created.body["workflow"]["workflow_id"]
    path = f"/v1/ai-orchestration/workflows/{workflow_id}"
    other = suite.request("GET", f"{path}/status", user="intruder-b")
    assert other.status == 404, other
    assert suite.request("DELETE", path, user="intruder-b").status == 404
    assert suite.request("GET", f"{path}/status", user="owner-a").status == 200
    assert suite.request("GET", f"{path}/status", user="ops", roles=("admin",)).status == 200


# --- sizes and malformed requests -----------------------------------------------------


def test_an_oversized_body_answers_413_json_before_any_service(suite):
    big = b'{"transcript": "' + b"word " * 300_000 + b'"}'
    answer = send(
        suite.settings.gateway_addr, "POST", "/v1/meeting-intel/analyze", suite.auth(), big
    )
    assert answer.status == 413, answer
    assert answer.body["code"] == 3 and "larger than" in answer.body["message"]


def test_oversized_headers_answer_431_json(suite):
    headers = suite.auth() | {"x-padding": "p" * 40_000}
    answer = send(suite.settings.gateway_addr, "GET", TYPES, headers)
    assert answer.status == 431, answer
    assert answer.body["code"] == 3


@pytest.mark.parametrize(
    "path",
    [
        "/v1/ai-orchestration/workflows/%ff%fe/events",
        f"{SUMMARY}?user_id=%ED%BF%BF",
        "/v1/ai-orchestration/workflows/%C0%AF/status",
    ],
)
def test_percent_escapes_that_are_not_utf8_answer_400(suite, path):
    answer = send(suite.settings.gateway_addr, "GET", path, suite.auth())
    assert answer.status == 400, answer
    assert answer.body["code"] == 3


def test_deeply_nested_json_answers_400(suite):
    nested: dict = {}
    for _ in range(200):
        nested = {"a": nested}
    body = {"activity_type": "login", "metadata": nested}
    answer = send(suite.settings.gateway_addr, "POST", TRACK, suite.auth(), body)
    assert answer.status == 400, answer
    assert "nested" in answer.body["message"]


def test_a_very_long_value_answers_400_with_a_bounded_message(suite):
    body = {"type": "t" * 200_000, "input": {"text": "x"}}
    answer = send(
        suite.settings.gateway_addr, "POST", "/v1/ai-orchestration/workflows", suite.auth(), body
    )
    assert answer.status == 400, str(answer)[:300]
    assert len(json.dumps(answer.body)) < 3000


# --- a gateway with small limits and an allowed origin ---------------------------------


@dataclass
class Gateway:
    addr: str
    keys: tokens.KeyPair
    rsa_keys: tokens.KeyPair

    def auth(self, sub: str) -> dict[str, str]:
        return bearer(self.keys.sign(tokens.claims(sub)))


@pytest.fixture(scope="module")
def small_gateway(tmp_path_factory):
    """Envoy (per user 2 requests a second, bursts of 4; per route 5, bursts of 10; one
    allowed origin) in front of a real monitor; the other clusters point at it too."""
    tmp = tmp_path_factory.mktemp("small-gateway")
    keys = tokens.write_key_pair(tmp / "ec")
    rsa_keys = tokens.write_key_pair(
        tmp / "rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048), "rsa-1"
    )
    # One JWKS with both keys: ES256 and RS256 signers are both accepted.
    jwks = {
        "keys": [
            *json.loads(keys.jwks.read_text())["keys"],
            *json.loads(rsa_keys.jwks.read_text())["keys"],
        ]
    }
    (tmp / "jwks.json").write_text(json.dumps(jwks))
    monitor = free_addr()
    env = {
        **{f"AIORCH_{name.upper()}_ADDR": monitor for name in DEFAULT_ADDRS},
        "AIORCH_MONITOR_METRICS_ADDR": "",
    }
    edge = edge_for(keys, user_rps=2, route_rps=5, cors_origins=(ORIGIN,))
    edge = type(edge)(**(edge.__dict__ | {"jwks_file": tmp / "jwks.json"}))
    with behind_envoy(tmp, "monitor", env, edge=edge) as fronted:
        yield Gateway(fronted.settings.gateway_addr, keys, rsa_keys)


def test_rs256_and_es256_tokens_are_both_accepted(small_gateway):
    for keys in (small_gateway.keys, small_gateway.rsa_keys):
        token = keys.sign(tokens.claims(f"signer-{keys.kid}-{uuid.uuid4()}"))
        answer = send(small_gateway.addr, "GET", STATUS, bearer(token))
        assert answer.status == 200, answer


def burst(gateway: Gateway, users: list[str]) -> list[Answer]:
    """One request per entry of `users`, all at once."""
    with ThreadPoolExecutor(len(users)) as pool:
        return list(pool.map(lambda u: send(gateway.addr, "GET", STATUS, gateway.auth(u)), users))


def test_a_user_over_their_rate_answers_429_with_retry_after_and_others_go_on(small_gateway):
    time.sleep(1.1)  # whatever ran before, the buckets are full again
    alice = burst(small_gateway, ["alice"] * 8)
    limited = [a for a in alice if a.status == 429]
    assert limited and len(limited) <= 4, [a.status for a in alice]
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].body["code"] == 8
    assert send(small_gateway.addr, "GET", STATUS, small_gateway.auth("bob")).status == 200


def test_the_route_as_a_whole_has_a_rate_limit_too(small_gateway):
    time.sleep(1.1)
    answers = burst(small_gateway, [f"user-{i}" for i in range(24)])  # one each
    assert any(a.status == 429 for a in answers), [a.status for a in answers]
    assert all(a.status in (200, 429) for a in answers), [a.status for a in answers]


def test_a_preflight_from_an_allowed_origin_is_answered_by_the_gateway(small_gateway):
    preflight = {"origin": ORIGIN, "access-control-request-method": "POST"}
    answer = send(
        small_gateway.addr,
        "OPTIONS",
        TRACK,
        preflight | {"access-control-request-headers": "authorization, content-type"},
    )
    assert answer.status == 200, answer
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert "authorization" in answer.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in answer.headers
    time.sleep(1.1)
    simple = send(
        small_gateway.addr, "GET", STATUS, small_gateway.auth("cors") | {"origin": ORIGIN}
    )
    assert simple.headers.get("access-control-allow-origin") == ORIGIN


def test_a_preflight_from_another_origin_is_refused(small_gateway):
    preflight = {"origin": "https://evil.example", "access-control-request-method": "POST"}
    answer = send(small_gateway.addr, "OPTIONS", TRACK, preflight)
    assert answer.status >= 400
    assert "access-control-allow-origin" not in answer.headers
    time.sleep(1.1)
    simple = send(
        small_gateway.addr,
        "GET",
        STATUS,
        small_gateway.auth("cors") | {"origin": "https://evil.example"},
    )
    assert "access-control-allow-origin" not in simple.headers


def test_no_origin_is_allowed_by_default(suite):
    preflight = {"origin": ORIGIN, "access-control-request-method": "GET"}
    answer = send(suite.settings.gateway_addr, "OPTIONS", TYPES, preflight)
    assert "access-control-allow-origin" not in answer.headers


# --- audit ----------------------------------------------------------------------------


def audit_lines(suite) -> list[dict]:
    """The audit lines the suite's processes logged (honcho prefixes each line)."""
    found = []
    for line in suite.log.read_text(errors="replace").splitlines():
        _, _, text = line.partition("| ")
        if '"aiorch.audit"' in text:
            found.append(json.loads(text))
    return found


def test_a_mutating_call_leaves_one_audit_line_naming_the_caller_by_pseudonym(suite):
    user = f"audited-{uuid.uuid4()}"
    answer = send(
        suite.settings.gateway_addr, "POST", TRACK, suite.auth(user), {"activity_type": "x"}
    )
    assert answer.status == 200, answer
    target = answer.body["activity_id"]
    deadline = time.monotonic() + 10
    while not (lines := [x for x in audit_lines(suite) if x["target"] == target]):
        assert time.monotonic() < deadline, "no audit line"
        time.sleep(0.1)
    [line] = lines
    assert line["action"] == "/aiorch.v1.MonitorService/TrackActivity"
    assert line["code"] == "OK" and line["admin"] is False and line["time"]
    assert len(line["caller"]) == 16 and user not in json.dumps(line)


# --- gRPC through the gateway ---------------------------------------------------------


def test_grpc_through_the_gateway_needs_the_same_token(suite):
    with grpc.insecure_channel(suite.settings.gateway_addr) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        request = orchestrator_pb2.ListWorkflowTypesRequest()
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListWorkflowTypes(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        spoofed = [("x-user-id", "mallory"), ("x-user-roles", "admin")]
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetCacheStats(
                orchestrator_pb2.GetCacheStatsRequest(), timeout=10, metadata=spoofed
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        auth = [("authorization", f"Bearer {suite.token()}")]
        assert stub.ListWorkflowTypes(request, timeout=10, metadata=auth).types
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetCacheStats(
                orchestrator_pb2.GetCacheStatsRequest(), timeout=10, metadata=auth + spoofed
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("roles", "status"),
    [
        (["user", "admin"], 200),
        ("user admin", 200),  # a space-separated string, as some providers send scopes
        ("admin,user", 200),
        ([], 403),
        (["Admin"], 403),
        (["user,admin"], 403),  # one role whose name holds a separator: dropped
        (["x\r\nx-user-roles: admin"], 403),
        ({"admin": True}, 403),
    ],
)
def test_the_roles_claim_becomes_the_callers_roles(small_gateway, roles, status):
    time.sleep(0.5)  # the per-user bucket of this small gateway refills
    claims = tokens.claims(f"roles-{uuid.uuid4()}") | {"roles": roles}
    token = small_gateway.keys.sign(claims)
    answer = send(small_gateway.addr, "POST", "/v1/performance/optimize", bearer(token), {})
    assert answer.status == status, answer
