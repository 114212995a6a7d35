"""Every Redis key, key prefix and pub/sub channel name pagemill uses, in one place (queue names are in
schemas/jobs.py, the contract with arq). Nothing else spells "pm:" by hand."""

PREFIX = "pm:"
EXPIRY_INDEX = PREFIX + "expiry"  # sorted set: which stored bytes to delete when
METRICS = PREFIX + "metrics"  # hash: the workers' counters
SIGNING_KEY = PREFIX + "signing-key"  # the generated secret of signed file links
QUEUED_JOB_SEQUENCE = PREFIX + "qj:seq"
READABLE = PREFIX + "readable"  # sorted set: source extensions workers can read (JSON lists), by expiry ms
WRITABLE = PREFIX + "writable"  # sorted set: dest formats workers can write (JSON lists), by expiry ms
OCR_LANGUAGES = PREFIX + "ocr-languages"  # sorted set: Tesseract languages workers have (JSON lists), by expiry
PROCESS_PREFIX = PREFIX + "proc:"
READY_CHANNEL_PREFIX = PREFIX + "ready:"
QUOTA_SIZES = PREFIX + "quota:sizes"  # hash: stored object (or reservation) -> bytes it counts
QUOTA_OWNERS = PREFIX + "quota:owners"  # hash: stored object (or reservation) -> its tenant
QUOTA_LEASES = PREFIX + "quota:leases"  # sorted set: reservations of bodies in flight, by lease end (ms)
REPLICATION_FENCE = PREFIX + "fence"  # written just before WAIT, so WAIT covers every earlier write


def fairness(queue: str) -> str:
    """Hash: tenant -> the virtual clock that scores its next job on `queue` (core/queue.py)."""
    return f"{PREFIX}fair:{queue}"


def workfile(file_id: str) -> str:
    return f"{PREFIX}wf:{file_id}"


def process(process_id: str) -> str:
    return PROCESS_PREFIX + process_id


def process_units(process_id: str) -> str:
    """Hash: unit index -> what rendering it produced."""
    return f"{PROCESS_PREFIX}{process_id}:units"


def process_results(process_id: str) -> str:
    """List: a search task's results (JSON), in page order."""
    return f"{PROCESS_PREFIX}{process_id}:results"


def webhook(process_id: str) -> str:
    """A finished process's webhook (url and the JSON to send) waiting for delivery."""
    return f"{PREFIX}webhook:{process_id}"


def queued_job(number: int) -> str:
    return f"{PREFIX}qj:{number}"


def tenant_jobs(tenant: str) -> str:
    """Sorted set of a tenant's queued-job numbers."""
    return f"{PREFIX}qj:t:{tenant}"


def quota_total(tenant: str) -> str:
    """The bytes a tenant holds (the sum of its QUOTA_SIZES entries)."""
    return f"{PREFIX}quota:t:{tenant}"


def idempotency(digest: str) -> str:
    return f"{PREFIX}idem:{digest}"


def file_versions(digest: str) -> str:
    """Hash of a file-service name's versions."""
    return f"{PREFIX}fs:{digest}"


def upload(upload_id: str) -> str:
    return f"{PREFIX}upload:{upload_id}"


def watermark_url(digest: str) -> str:
    """A watermark image fetched from a URL, cached as a work file id."""
    return f"{PREFIX}wmurl:{digest}"


def page(namespace: str, variant_digest: str, number: int) -> str:
    """A rendered page record (also the name waiters listen for)."""
    return f"{PREFIX}page:{namespace}:{variant_digest}:{number}"


def document(doc_id: str) -> str:
    """A document's page count and page sizes."""
    return f"{PREFIX}doc:{doc_id}"


def text(doc_id: str, number: int) -> str:
    """One page's extracted text."""
    return f"{PREFIX}text:{doc_id}:{number}"


def session(session_id: str) -> str:
    """A viewing session's record."""
    return f"{PREFIX}vs:{session_id}"


def session_jobs(session_id: str) -> str:
    """Set: the ids of the rendering jobs a viewing session enqueued (dropped when it stops)."""
    return f"{PREFIX}vs:{session_id}:jobs"


def wake_channel(queue: str) -> str:
    """Pub/sub channel on which every enqueue onto `queue` wakes the workers polling it (core/queue.py)."""
    return f"{PREFIX}wake:{queue}"


def ready_channel(key: str) -> str:
    """Pub/sub channel announcing that `key` was written."""
    return READY_CHANNEL_PREFIX + key


def stage_lock(pdf_id: str) -> str:
    """Held by the worker turning an office source into the PDF work file `pdf_id`."""
    return f"{PREFIX}stage:lock:{pdf_id}"


def stage_error(pdf_id: str) -> str:
    """Why an office source could not become the PDF `pdf_id` (kept briefly, so it is not retried at once)."""
    return f"{PREFIX}stage:error:{pdf_id}"
