"""Waits until every service of the suite reports SERVING and the gateway is ready.

`python -m tools.ready` is the last entry of the local Procfile: it prints
where to reach the suite once everything is up, then stays until the others stop.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.settings import DEFAULT_ADDRS, Settings, get_settings

SERVICES = tuple(DEFAULT_ADDRS)
EXAMPLE = json.dumps(
    {
        "type": "classification",
        "wait": True,
        "input": {
            "text": "Bob will send the invoice on Friday.",
            "labels": [{"name": "finance"}, {"name": "sports"}],
        },
    }
)


async def wait_serving(addr: str, timeout: float) -> None:
    """Returns when the server at `addr` answers its health check with SERVING."""
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{addr} is not SERVING after {timeout:.0f} s")
            await asyncio.sleep(0.1)


async def wait_gateway(admin_addr: str, timeout: float) -> None:
    """Returns when Envoy's admin /ready answers 200 (listeners up, clusters initialised)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with await asyncio.to_thread(
                urllib.request.urlopen, f"http://{admin_addr}/ready", timeout=1
            ) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"Envoy at {admin_addr} is not ready after {timeout:.0f} s")
        await asyncio.sleep(0.1)


async def wait_suite(settings: Settings, timeout: float = 60) -> None:
    await asyncio.gather(
        *(wait_serving(settings.addr_of(name), timeout) for name in SERVICES),
        wait_gateway(settings.gateway_admin_addr, timeout),
    )


def banner(settings: Settings, seconds: float) -> str:
    url = f"http://{settings.gateway_addr}"
    services = "\n".join(f"  {name:<14} grpc://{settings.addr_of(name)}" for name in SERVICES)
    return f"""
aiorch is up: every service SERVING after {seconds:.1f} s.

  gateway        {url}  (JSON over HTTP)
{services}

Try (every API call needs a token; `make token` prints one for 12 hours):
  TOKEN=$(make token)
  curl -s {url}/v1/ai-orchestration/workflows -H "authorization: Bearer $TOKEN" \\
    -H 'content-type: application/json' -d '{EXAMPLE}'

Ctrl-C stops everything.
"""


async def main() -> None:
    started = time.monotonic()
    # Stopped at any moment (Ctrl-C while the suite comes up) it still exits 0.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    settings = get_settings()
    waiting = asyncio.ensure_future(wait_suite(settings))
    await asyncio.wait({waiting, asyncio.ensure_future(stop.wait())}, return_when="FIRST_COMPLETED")
    if waiting.done():
        waiting.result()  # a suite that did not come up is an error
        print(banner(settings, time.monotonic() - started), flush=True)
    else:
        waiting.cancel()
    await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
