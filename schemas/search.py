"""Search contexts and search tasks: request bodies as PrizmDoc clients send them."""

import re
from typing import Literal

import regex
from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid", strict=True)


class SearchContextInput(BaseModel):
    """`input` of POST /v2/searchContexts: extract the text of a work file's pages."""

    model_config = _STRICT
    documentIdentifier: str = Field(min_length=1, max_length=1024)
    source: Literal["workFile"]  # PrizmDoc's "upload" (records PUT by the client) is not supported
    fileId: str = Field(min_length=1, max_length=64)


class SearchContextRequest(BaseModel):
    """Body of POST /v2/searchContexts."""

    model_config = _STRICT
    input: SearchContextInput
    minSecondsAvailable: int | None = Field(default=None, ge=0, le=10**9)


class SearchTerm(BaseModel):
    """A "simple" term: every occurrence of one regular expression."""

    model_config = _STRICT
    type: Literal["simple"]
    pattern: str = Field(min_length=1, max_length=1024, description="A regular expression (JavaScript syntax)")
    caseSensitive: bool = False


class SearchTaskInput(BaseModel):
    """`input` of POST /v2/viewingSessions/{id}/searchTasks."""

    model_config = _STRICT
    searchTerms: list[SearchTerm] = Field(min_length=1, max_length=100)


class SearchTaskRequest(BaseModel):
    """Body of POST /v2/viewingSessions/{id}/searchTasks."""

    model_config = _STRICT
    input: SearchTaskInput
    minSecondsAvailable: int | None = Field(default=None, ge=0, le=10**9)


_JS_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


def python_pattern(pattern: str) -> str:
    """A PrizmDoc (JavaScript) regular expression in Python's dialect: named groups `(?<name>...)`
    are spelled `(?P<name>...)`; the rest of the common syntax is the same."""
    return _JS_NAMED_GROUP.sub("(?P<", pattern)


def compile_pattern(pattern: str, *, case_sensitive: bool = True) -> regex.Pattern[str]:
    """A PrizmDoc (JavaScript) regular expression, compiled with the `regex` module (re's syntax, far less
    prone to runaway backtracking, and a match can be given a time limit); regex.error when not valid."""
    return regex.compile(python_pattern(pattern), 0 if case_sensitive else regex.IGNORECASE)
