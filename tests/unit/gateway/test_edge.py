"""The gateway's edge rules as rendered: who signs tokens, which routes need one, the
rate limits, CORS and the sizes; and the development tokens."""

from __future__ import annotations

import json
import time

import jwt
import pytest
import yaml

from gateway import tokens
from gateway.render import RATE_LIMITED, Edge, render
from services.common.settings import PROJECT_ROOT, Settings

DESCRIPTOR = PROJECT_ROOT / "build" / "aiorch.pb"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tokens.KeyPair:
    return tokens.write_key_pair(tmp_path_factory.mktemp("keys"))


def bootstrap(edge: Edge) -> dict:
    return yaml.safe_load(render(Settings(), DESCRIPTOR, otlp="", edge=edge))


def manager(config: dict) -> dict:
    [listener] = [x for x in config["static_resources"]["listeners"] if x["name"] == "gateway"]
    return listener["filter_chains"][0]["filters"][0]["typed_config"]


def http_filter(config: dict, name: str) -> dict:
    return next(f for f in manager(config)["http_filters"] if f["name"] == name)["typed_config"]


def test_every_path_needs_a_token_of_the_configured_issuer_but_the_public_documents(keys):
    edge = Edge(jwks_file=keys.jwks, issuer="https://idp.example", audiences=("api", "cli"))
    jwt_authn = http_filter(bootstrap(edge), "envoy.filters.http.jwt_authn")
    provider = jwt_authn["providers"]["aiorch"]
    assert provider["issuer"] == "https://idp.example"
    assert provider["audiences"] == ["api", "cli"]
    assert provider["local_jwks"]["filename"] == str(keys.jwks.resolve())
    assert provider["forward"] is False
    rules = jwt_authn["rules"]
    assert rules[-1] == {"match": {"prefix": "/"}, "requires": {"provider_name": "aiorch"}}
    assert all("requires" not in rule for rule in rules[:-1])
    assert {rule["match"]["path"] for rule in rules[:-1]} == {"/v1/openapi.json"}


def test_identity_and_reserved_headers_from_clients_are_removed_before_any_filter(keys):
    mutations = manager(bootstrap(Edge(jwks_file=keys.jwks)))["early_header_mutation_extensions"]
    removed = {m.get("remove") for m in mutations[0]["typed_config"]["mutations"]}
    prefixes = {
        m["remove_on_match"]["key_matcher"]["prefix"]
        for m in mutations[0]["typed_config"]["mutations"]
        if "remove_on_match" in m
    }
    assert {"x-user-id", "x-user-roles"} <= removed
    assert {"grpc-", "aiorch-"} <= prefixes


def test_every_service_route_has_a_route_bucket_and_one_per_user(keys):
    config = bootstrap(Edge(jwks_file=keys.jwks, user_rps=7, route_rps=70))
    routes = manager(config)["route_config"]["virtual_hosts"][0]["routes"]
    limited = [
        r
        for r in routes
        if "envoy.filters.http.local_ratelimit" in r.get("typed_per_filter_config", {})
    ]
    assert len(limited) == len(RATE_LIMITED)
    for route in limited:
        limit = route["typed_per_filter_config"]["envoy.filters.http.local_ratelimit"]
        assert limit["token_bucket"]["tokens_per_fill"] == 70
        [per_user] = limit["descriptors"]
        assert per_user["entries"] == [{"key": "user"}]  # no value: a bucket per user
        assert per_user["token_bucket"]["tokens_per_fill"] == 7
        [action] = limit["rate_limits"][0]["actions"]
        assert action["request_headers"]["header_name"] == "x-user-id"
        assert limit["response_headers_to_add"][0]["header"]["key"] == "retry-after"


def test_cors_allows_exactly_the_configured_origins_without_credentials(keys):
    for origins in ((), ("https://a.example", "https://b.example")):
        config = bootstrap(Edge(jwks_file=keys.jwks, cors_origins=origins))
        host = manager(config)["route_config"]["virtual_hosts"][0]
        policy = host["typed_per_filter_config"]["envoy.filters.http.cors"]
        assert [m["exact"] for m in policy["allow_origin_string_match"]] == list(origins)
        assert policy["allow_credentials"] is False


def test_the_body_limit_is_the_transcoders_and_fits_the_connection_buffer(keys):
    config = bootstrap(Edge(jwks_file=keys.jwks, max_body_bytes=12345))
    transcoder = http_filter(config, "envoy.filters.http.grpc_json_transcoder")
    assert transcoder["max_request_body_size"] == 12345
    [listener] = [x for x in config["static_resources"]["listeners"] if x["name"] == "gateway"]
    assert listener["per_connection_buffer_limit_bytes"] > 12345
    assert manager(config)["use_remote_address"] is True


def test_a_configured_jwks_file_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        render(Settings(), DESCRIPTOR, otlp="", edge=Edge(jwks_file=tmp_path / "none.json"))


def test_the_edge_comes_from_the_environment(monkeypatch, keys):
    monkeypatch.setenv("AIORCH_GATEWAY_JWKS_FILE", str(keys.jwks))
    monkeypatch.setenv("AIORCH_GATEWAY_JWT_AUDIENCES", "a, b")
    monkeypatch.setenv("AIORCH_GATEWAY_CORS_ORIGINS", "https://x.example")
    monkeypatch.setenv("AIORCH_GATEWAY_USER_RPS", "3")
    edge = Edge.from_env()
    assert (edge.jwks_file, edge.audiences, edge.cors_origins, edge.user_rps) == (
        keys.jwks,
        ("a", "b"),
        ("https://x.example",),
        3,
    )


def test_a_development_token_verifies_against_the_jwks_with_its_claims(keys):
    token = keys.sign(tokens.claims("alice", ("admin",), ttl=60))
    [jwk] = json.loads(keys.jwks.read_text())["keys"]
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(token, public, algorithms=["ES256"], audience=tokens.AUDIENCE)
    assert (claims["sub"], claims["roles"], claims["iss"]) == ("alice", ["admin"], "aiorch-dev")
    assert claims["nbf"] <= time.time() < claims["exp"] <= time.time() + 60


def test_the_private_key_is_readable_by_its_owner_only(keys):
    assert keys.private_key.stat().st_mode & 0o077 == 0


def test_envoy_sheds_load_before_its_heap_reaches_the_configured_bound(keys):
    overload = bootstrap(Edge(jwks_file=keys.jwks, max_heap_bytes=1 << 27))["overload_manager"]
    [heap] = [m for m in overload["resource_monitors"] if m["name"].endswith("fixed_heap")]
    assert heap["typed_config"]["max_heap_size_bytes"] == 1 << 27
    actions = {a["name"]: a["triggers"][0]["threshold"]["value"] for a in overload["actions"]}
    assert actions["envoy.overload_actions.shrink_heap"] < 1
    assert actions["envoy.overload_actions.stop_accepting_requests"] < 1


def seconds(duration: str) -> float:
    assert duration.endswith("s"), duration
    return float(duration[:-1])


def test_a_request_must_arrive_in_time_while_routes_and_streams_keep_their_own_bounds(keys):
    config = manager(bootstrap(Edge(jwks_file=keys.jwks)))
    headers = seconds(config["request_headers_timeout"])
    whole = seconds(config["request_timeout"])
    idle = seconds(config["stream_idle_timeout"])
    assert (headers, whole, idle) == (10, 30, 60)
    # Headers first, then the whole request (headers and body), each bounded.
    assert 0 < headers < whole
    routes = config["route_config"]["virtual_hosts"][0]["routes"]
    forwarded = [r["route"] for r in routes if "route" in r]
    # request_timeout ends once the request is in: a route's timeout (counted from then)
    # and a watch stream's life are their own. The streams have no overall timeout and an
    # idle limit of their own, longer than the connection manager's.
    streams = [r for r in forwarded if seconds(r["timeout"]) == 0]
    assert len(streams) == 2
    assert all(seconds(r["idle_timeout"]) > idle for r in streams)
    unary = [seconds(r["timeout"]) for r in forwarded if seconds(r["timeout"]) > 0]
    assert max(unary) == 60
