"""Job names, queue names and deterministic job ids: the contract between web and workers.

Payloads carry ids only (never file bytes) and are serialised as JSON, never pickle.
"""

import json
from typing import Any

# Two queues so interactive work (a viewer waiting for a page) never waits behind batch conversions.
INTERACTIVE_QUEUE = "pagemill:interactive"
BATCH_QUEUE = "pagemill:batch"
QUEUES = (INTERACTIVE_QUEUE, BATCH_QUEUE)

PLAN_CONVERSION = "plan_conversion"
RENDER_CHUNK = "render_chunk"
FINISH_CONVERSION = "finish_conversion"
SWEEP_EXPIRED = "sweep_expired"
DISCARD_OUTPUTS = "discard_outputs"
DELIVER_WEBHOOK = "deliver_webhook"
EXTRACT_TEXT = "extract_text"  # a search context's page records
SEARCH_TEXT = "search_text"  # a search task's results
CREATE_REDACTIONS = "create_redactions"
BURN_MARKUP = "burn_markup"
REDACT_PLAIN_TEXT = "redact_plain_text"


def plan_job_id(process_id: str) -> str:
    """The one plan job of a process (the job that starts a conversion)."""
    return f"proc:{process_id}:plan"


def step_job_id(process_id: str, start: int = 0) -> str:
    """A page-by-page process job; `start` > 0 marks the continuation of one that ran out of time."""
    return f"proc:{process_id}:step" + (f"@{start}" if start else "")


def chunk_job_id(process_id: str, chunk: int, start: int) -> str:
    """A chunk job; `start` > 0 marks the continuation of a chunk that ran out of time."""
    return f"proc:{process_id}:chunk:{chunk}" + (f"@{start}" if start else "")


def finish_job_id(process_id: str) -> str:
    """The one finishing (assembly) job of a process."""
    return f"proc:{process_id}:finish"


def discard_job_id(process_id: str) -> str:
    """The one clean-up job of a cancelled process."""
    return f"proc:{process_id}:discard"


def webhook_job_id(process_id: str) -> str:
    """The one webhook delivery of a process (its retries reuse the job)."""
    return f"proc:{process_id}:webhook"


def serialize_job(data: dict[str, Any]) -> bytes:
    """arq job serializer: JSON instead of pickle."""
    return json.dumps(data, separators=(",", ":")).encode()


def deserialize_job(raw: bytes) -> dict[str, Any]:
    """arq job deserializer matching `serialize_job`."""
    return json.loads(raw)


VIEW_ACQUIRE = "view_acquire"
VIEW_INSPECT = "view_inspect"
VIEW_RENDER = "view_render"
VIEW_REST = "view_rest"
VIEW_TEXT = "view_text"
VIEW_CLASSIFY = "view_classify"


def view_job_id(namespace: str, variant_digest: str, what: str) -> str:
    """Viewer jobs are deduplicated per rendered namespace and variant (`what`: initial, p12, rest:8...)."""
    return f"view:{namespace}:{variant_digest}:{what}"
