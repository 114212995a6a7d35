"""Records kept in Redis by the service and read by workers: work files and processes."""

from typing import Literal

from pydantic import BaseModel, Field

ProcessState = Literal["processing", "complete", "error"]


class WorkFile(BaseModel):
    """Metadata of a stored work file; its bytes live in storage under `storage_key(file_id)`."""

    file_id: str
    extension: str
    content_type: str
    size: int
    sha256: str
    created_ms: int
    expires_ms: int
    affinity_token: str
    filename: str = ""
    tenant: str = ""


class Unit(BaseModel):
    """One page of one source: the smallest piece of rendering work."""

    s: int  # index into input.sources
    p: int  # 0-based page index in that source


class OutputGroup(BaseModel):
    """One entry of output.results: the units it is made of, or the error it reports."""

    units: list[int] = Field(default_factory=list)
    error_code: str | None = None
    error_sources: list[dict[str, str]] = Field(default_factory=list)


class Plan(BaseModel):
    """How a process is split into work, written once by the plan job."""

    page_counts: list[int]
    units: list[Unit]
    render: list[int]  # unit indexes that need a per-page artifact, in order
    chunk_pages: int
    groups: list[OutputGroup]

    def chunks(self) -> list[list[int]]:
        """The render list split into chunk jobs."""
        n = self.chunk_pages
        return [self.render[i : i + n] for i in range(0, len(self.render), n)]


class UnitResult(BaseModel):
    """What rendering one unit produced: an artifact work file, or an error code."""

    file_id: str | None = None
    width: int = 0
    height: int = 0
    error_code: str | None = None
