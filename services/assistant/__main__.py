"""python -m services.assistant: the assistant service on AIORCH_ASSISTANT_ADDR."""

from aiorch.v1 import assistant_pb2_grpc
from services.assistant.knowledge import Limits
from services.assistant.routing import open_answerer
from services.assistant.servicer import AssistantServicer
from services.assistant.sessions import SessionStore
from services.assistant.settings import AssistantSettings
from services.assistant.store import KnowledgeStore
from services.assistant.usage import Budget, UsageLedger
from services.common.channels import Link
from services.common.database import Database
from services.common.server import Service, run
from services.embeddings.client import EmbeddingsClient


async def build(settings: AssistantSettings, stack):
    db = await Database.open(settings.database_url.get_secret_value())
    stack.push_async_callback(db.close)
    link = Link("embeddings", settings.embeddings_addr, settings.unreachable_fail_fast_seconds)
    stack.push_async_callback(link.close)
    embeddings = EmbeddingsClient(link, settings.max_texts, settings.max_text_chars)
    limits = Limits(max_text_chars=settings.max_text_chars)
    store = await KnowledgeStore.open(db)
    sessions = await SessionStore.open(db)
    ledger = await UsageLedger.open(db)
    budget = Budget(
        settings.assistant_daily_token_budget, settings.assistant_model_daily_token_budgets
    )
    backend = open_answerer(settings)
    stack.push_async_callback(backend.close)
    servicer = AssistantServicer(
        store,
        embeddings,
        limits,
        settings.deadline_margin_seconds,
        sessions,
        backend,
        ledger,
        budget,
    )
    return [
        Service(
            "aiorch.v1.AssistantService",
            servicer,
            assistant_pb2_grpc.add_AssistantServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("assistant", build, AssistantSettings)
