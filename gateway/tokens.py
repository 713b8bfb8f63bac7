"""Development signing keys and tokens for the gateway's JWT check.

    python -m gateway.tokens keys                    # make the dev key pair if missing
    python -m gateway.tokens token [--sub alice] [--roles admin] [--ttl 43200]

In production an identity provider signs the tokens and the gateway gets only its public
keys (a JWKS file, from a Kubernetes Secret). On a laptop `make run` makes an ES256 key
pair under var/gateway/ (gitignored, never committed): the private key signs the tokens
`make token` prints, the public half is the JWKS Envoy loads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.common.settings import PROJECT_ROOT

DEV_DIR = PROJECT_ROOT / "var" / "gateway"
DEV_ISSUER = "aiorch-dev"
AUDIENCE = "aiorch"
KEY_ID = "aiorch-dev-1"
DEV_TTL_SECONDS = 12 * 3600


@dataclass(frozen=True)
class KeyPair:
    """A signing key on disk and the JWKS of its public half."""

    private_key: Path
    jwks: Path
    kid: str = KEY_ID

    def sign(self, claims: dict) -> str:
        key = serialization.load_pem_private_key(self.private_key.read_bytes(), password=None)
        algorithm = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": self.kid})


def public_jwk(key, kid: str) -> dict:
    """The JWK of a private key's public half (EC P-256 or RSA)."""
    algorithm = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    jwk = json.loads(jwt.get_algorithm_by_name(algorithm).to_jwk(key.public_key()))
    return jwk | {"kid": kid, "alg": algorithm, "use": "sig"}


def write_key_pair(folder: Path, key=None, kid: str = KEY_ID) -> KeyPair:
    """Writes `key` (a new EC P-256 key by default) and its JWKS under `folder`."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    folder.mkdir(parents=True, exist_ok=True)
    pair = KeyPair(folder / "signing-key.pem", folder / "jwks.json", kid)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Readable by its owner only, from the moment it exists.
    descriptor = os.open(pair.private_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    pair.jwks.write_text(json.dumps({"keys": [public_jwk(key, kid)]}))
    return pair


def dev_keys(folder: Path = DEV_DIR) -> KeyPair:
    """The development key pair, made on first use."""
    pair = KeyPair(folder / "signing-key.pem", folder / "jwks.json")
    if pair.private_key.exists() and pair.jwks.exists():
        return pair
    return write_key_pair(folder)


def claims(
    subject: str,
    roles: tuple[str, ...] = (),
    *,
    issuer: str = DEV_ISSUER,
    audience: str = AUDIENCE,
    ttl: float = DEV_TTL_SECONDS,
    now: float | None = None,
) -> dict:
    now = time.time() if now is None else now
    return {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "roles": list(roles),
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now + ttl),
        "jti": str(uuid.uuid4()),
    }


def dev_token(subject: str = "dev-user", roles: tuple[str, ...] = (), **kwargs) -> str:
    """A token the gateway of `make run` accepts, for `subject` with `roles`."""
    return dev_keys().sign(claims(subject, roles, **kwargs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("keys", help="make the development key pair if it is missing")
    token = commands.add_parser("token", help="print a development token")
    token.add_argument("--sub", default="dev-user", help="the caller's id (default dev-user)")
    token.add_argument("--roles", default="", help="comma-separated roles, e.g. admin")
    token.add_argument("--ttl", type=float, default=DEV_TTL_SECONDS, help="seconds valid")
    args = parser.parse_args()
    if args.command == "keys":
        # stderr: `make token` output stays the token alone, for TOKEN=$(make token).
        print(f"development JWKS: {dev_keys().jwks}", file=sys.stderr)
        return
    roles = tuple(r for r in args.roles.split(",") if r)
    print(dev_token(args.sub, roles, ttl=args.ttl))


if __name__ == "__main__":
    main()
