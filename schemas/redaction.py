"""Redaction creators, markup burners and plain-text redactors: request bodies as PrizmDoc's SDK sends them."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid", strict=True)
COLOR_PATTERN = r"^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$"
LINE_ENDINGS = ("\n", "\r\n")


class FileRef(BaseModel):
    """A work file named by its id."""

    model_config = _STRICT
    fileId: str = Field(min_length=1, max_length=64)


class RegexFind(BaseModel):
    """What a rule looks for: every match of a regular expression in a page's text."""

    model_config = _STRICT
    type: Literal["regex"]
    pattern: str = Field(min_length=1, max_length=1024, description="A regular expression (JavaScript syntax)")


class RedactWith(BaseModel):
    """How a match is marked: a RectangleRedaction with these properties (colors are #RRGGBB)."""

    model_config = _STRICT
    type: Literal["RectangleRedaction"]
    reason: str | None = Field(default=None, max_length=1024)
    fontColor: str | None = None
    fillColor: str | None = None
    borderColor: str | None = None
    borderThickness: int | None = None
    data: dict[str, str] | None = None


class RedactionRule(BaseModel):
    """One rule: what to find and how to mark it."""

    model_config = _STRICT
    find: RegexFind
    redactWith: RedactWith


class RedactionCreatorInput(BaseModel):
    model_config = _STRICT
    source: FileRef
    rules: list[RedactionRule] = Field(min_length=1, max_length=100)


class RedactionCreatorRequest(BaseModel):
    """Body of POST /v2/redactionCreators."""

    model_config = _STRICT
    input: RedactionCreatorInput
    minSecondsAvailable: int | None = Field(default=None, ge=0, le=10**9)


class MarkupBurnerInput(BaseModel):
    model_config = _STRICT
    documentFileId: str = Field(min_length=1, max_length=64)
    markupFileId: str = Field(min_length=1, max_length=64)


class MarkupBurnerRequest(BaseModel):
    """Body of POST /PCCIS/V1/MarkupBurner."""

    model_config = _STRICT
    input: MarkupBurnerInput
    minSecondsAvailable: int | None = Field(default=None, ge=0, le=10**9)


class PlainTextDest(BaseModel):
    model_config = _STRICT
    lineEndings: Literal["\n", "\r\n"]


class PlainTextRedactorInput(BaseModel):
    model_config = _STRICT
    source: FileRef
    markup: FileRef
    dest: PlainTextDest


class PlainTextRedactorRequest(BaseModel):
    """Body of POST /v2/plainTextRedactors."""

    model_config = _STRICT
    input: PlainTextRedactorInput
    minSecondsAvailable: int | None = Field(default=None, ge=0, le=10**9)
