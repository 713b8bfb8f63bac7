"""OpenAI-compatible backends: one client per process, JSON replies checked against the
schema they were asked for, token usage and its cost.

Any server that speaks the OpenAI API works (OPENAI_BASE_URL): OpenAI itself, vLLM,
llama.cpp's llama-server. A reply that does not match the schema is asked for once more,
then the call fails with a clear error rather than passing on a malformed result.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jsonschema

from aiorch.v1 import common_pb2
from services.common import metrics, telemetry
from services.common.errors import DeadlineExceeded, DomainError, Unavailable
from services.common.settings import Settings

if TYPE_CHECKING:
    import openai


class InvalidModelReply(DomainError):
    """The model answered twice with something that is not what the schema asks."""


class ModelServerError(DomainError):
    """The model server refused the request (bad key, unknown model, too long a prompt)."""


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cost_usd: float

    def to_proto(self) -> common_pb2.Usage:
        return common_pb2.Usage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=self.cost_usd,
        )


def client(settings: Settings, base_url: str = "") -> openai.AsyncOpenAI:
    # Imported here: loading openai takes about a second, which every service paid at
    # each start (a restart's downtime) whatever its backend.
    import openai

    return openai.AsyncOpenAI(
        base_url=base_url or settings.openai_base_url or None,
        # A self-hosted server needs no key, but the client insists on one.
        api_key=settings.openai_api_key.get_secret_value() or "none",
        timeout=settings.openai_timeout_seconds,
        # Retries belong to our callers' deadlines, not to a hidden loop in the client.
        max_retries=0,
    )


def cost(settings: Settings, model: str, input_tokens: int, output_tokens: int) -> float:
    price = settings.prices.get(model, {})
    return (input_tokens * price.get("input", 0.0) + output_tokens * price.get("output", 0.0)) / 1e6


async def call(request: Awaitable):
    """Awaits an openai request, turning its failures into our domain errors."""
    import openai  # loaded by now: the request came from a client() of this module

    try:
        return await request
    except openai.APITimeoutError:
        # The timeout is what the caller's deadline left (or openai_timeout_seconds).
        raise DeadlineExceeded("the model server did not answer in time") from None
    except (
        openai.APIConnectionError,
        openai.RateLimitError,
        openai.InternalServerError,
    ) as error:
        raise Unavailable(f"the model server did not answer: {error}") from None
    except openai.APIStatusError as error:
        raise ModelServerError(
            f"the model server refused the request ({error.status_code}): {error.message}"
        ) from None


async def chat_json(
    api: openai.AsyncOpenAI,
    settings: Settings,
    messages: list[dict],
    schema: dict,
    name: str,
    timeout: float | None = None,
) -> tuple[dict, Usage]:
    """The model's reply as a dict valid against `schema`, and the usage of every attempt."""
    input_tokens = output_tokens = 0
    problem = ""
    for attempt in range(2):
        prompt = messages
        if attempt:
            prompt = [
                *messages,
                {
                    "role": "user",
                    "content": f"Your last reply was invalid ({problem}). "
                    "Answer again with JSON that matches the schema.",
                },
            ]
        model = settings.openai_chat_model
        with telemetry.model_span("chat", model, "openai") as span:
            reply = await call(
                api.chat.completions.create(  # type: ignore[call-overload]  # dicts, not TypedDicts
                    model=model,
                    messages=prompt,
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": name, "schema": schema, "strict": True},
                    },
                    temperature=0,
                    timeout=timeout,
                )
            )
            if reply.usage is not None:
                used_in, used_out = reply.usage.prompt_tokens, reply.usage.completion_tokens
                input_tokens += used_in
                output_tokens += used_out
                telemetry.set_usage(span, used_in, used_out)
                price = cost(settings, model, used_in, used_out)
                metrics.record_usage("openai", model, used_in, used_out, price)
        try:
            data = json.loads(reply.choices[0].message.content or "")
            jsonschema.validate(data, schema)
            # Priced by the configured name: servers answer with dated or file names.
            price = cost(settings, settings.openai_chat_model, input_tokens, output_tokens)
            return data, Usage(input_tokens, output_tokens, price)
        except (ValueError, jsonschema.ValidationError) as error:
            problem = str(error).splitlines()[0][:200]
    raise InvalidModelReply(f"the model's reply did not match the {name} schema twice: {problem}")
