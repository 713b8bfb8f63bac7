"""Renders what an overlay's gateway reads into `<overlay>/generated/` (never committed):
the Envoy config (gateway/render.py, from base/gateway.env and the overlay's gateway.env)
and the descriptor set, which the overlay turns into the ConfigMap gateway-config.

    python deploy/k8s/render_gateway.py deploy/k8s/overlays/production --descriptor build/aiorch.pb

The config names the paths Envoy finds in its pod (the ConfigMap and the JWKS Secret are
mounted there), not this machine's. With --dev-secrets (the local overlay) it also writes
the laptop cluster's Secrets: the development JWKS that `make token` signs for, and the
URLs of the overlay's own PostgreSQL and Redis with an activity key made once.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
from pathlib import Path

K8S = Path(__file__).resolve().parent
# Where the gateway Deployment mounts the ConfigMap gateway-config (base/gateway.yaml).
CONFIG_DIR = Path("/etc/envoy")
DESCRIPTOR = "aiorch.pb"


def read_env(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a kustomize-style env file; # comments and blank lines skipped."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def render_config(overlay: Path, descriptor: Path) -> str:
    """The Envoy bootstrap for `overlay`, whatever AIORCH_* or OTEL_* this shell has set:
    only the env files count."""
    for key in [k for k in os.environ if k.startswith(("AIORCH_", "OTEL_"))]:
        del os.environ[key]
    os.environ.update(read_env(K8S / "base" / "gateway.env"))
    if (overlay / "gateway.env").is_file():
        os.environ.update(read_env(overlay / "gateway.env"))
    # Imported after the environment is set: settings are read once.
    from gateway.render import Edge, render
    from services.common.settings import Settings

    class MountedEdge(Edge):
        def jwks(self) -> Path:
            # The Secret's file exists in the pod, not here: Envoy checks it when it starts.
            return Path(os.environ["AIORCH_GATEWAY_JWKS_FILE"])

    config = render(Settings(), descriptor, edge=MountedEdge.from_env())
    here = json.dumps(str(descriptor.resolve()))
    if config.count(here) != 1:
        raise RuntimeError(f"expected the descriptor's path once in the config: {here}")
    return config.replace(here, json.dumps(str(CONFIG_DIR / DESCRIPTOR)))


def without_comments(descriptor: bytes) -> bytes:
    """The descriptor set without its source info: the comments went into the OpenAPI
    document when the config was rendered, and Envoy's transcoder needs only the types.
    A third of the size, which keeps the ConfigMap under what `kubectl apply` records of an
    object (256 KiB)."""
    from google.protobuf.descriptor_pb2 import FileDescriptorSet

    files = FileDescriptorSet.FromString(descriptor)
    for file in files.file:
        file.ClearField("source_code_info")
    return files.SerializeToString()


def write_dev_secrets(out: Path) -> None:
    from gateway.tokens import dev_keys

    shutil.copyfile(dev_keys().jwks, out / "jwks.json")
    env = out / "aiorch.env"
    # Keys are made once: a new activity key would orphan the activity stored under the
    # old one, and a changed Secret would roll every pod.
    kept = read_env(env) if env.is_file() else {}
    env.write_text(
        "database-url=postgresql://aiorch@postgres:5432/aiorch\n"
        "redis-url=redis://redis:6379/0\n"
        f"activity-key={kept.get('activity-key') or secrets.token_hex(32)}\n"
        f"log-key={kept.get('log-key') or secrets.token_hex(32)}\n"
    )
    env.chmod(0o600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overlay", type=Path, help="the overlay's folder")
    parser.add_argument("--descriptor", type=Path, required=True, help="descriptor set (.pb)")
    parser.add_argument("--dev-secrets", action="store_true", help="the laptop's Secrets too")
    args = parser.parse_args()
    out = args.overlay / "generated"
    out.mkdir(exist_ok=True)
    (out / "envoy.yaml").write_text(render_config(args.overlay.resolve(), args.descriptor))
    (out / DESCRIPTOR).write_bytes(without_comments(args.descriptor.read_bytes()))
    if args.dev_secrets:
        write_dev_secrets(out)


if __name__ == "__main__":
    main()
