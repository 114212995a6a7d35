"""Redaction: redaction creators (/v2/redactionCreators), markup burners (/PCCIS/V1/MarkupBurner) and
plain-text redactors (/v2/plainTextRedactors), validated as PrizmDoc validates them."""

import re
from typing import Any

from aiohttp import web

from core.processes import MARKUP_BURNING, PLAIN_TEXT_REDACTION, REDACTION_CREATION
from schemas.redaction import COLOR_PATTERN, MarkupBurnerRequest, PlainTextRedactorRequest, RedactionCreatorRequest
from service import keys
from service.api.processes import start
from service.api.search import check_pattern
from service.errors import ApiError, InvalidInput
from service.params import tenant_workfile
from service.validation import read_model

_COLOR = re.compile(COLOR_PATTERN)


async def post_redaction_creator(request: web.Request) -> web.Response:
    """Check the rules (colors, thickness, patterns) and the source, then find and mark every match."""
    settings = request.app[keys.SETTINGS]
    req = await read_model(request, RedactionCreatorRequest, settings.max_json_bytes)
    for i, rule in enumerate(req.input.rules):
        at = f"input.rules[{i}]"
        check_pattern(rule.find.pattern, f"{at}.find.pattern")
        options = rule.redactWith
        for name in ("fontColor", "fillColor", "borderColor"):
            value = getattr(options, name)
            if value is not None and not _COLOR.match(value):
                raise InvalidInput(
                    f"{at}.redactWith.{name}",
                    expected={"type": "string", "pattern": COLOR_PATTERN},
                    message=f'{name} must be a color such as "#ff0000", not {value!r}',
                )
        if options.borderThickness is not None and options.borderThickness <= 0:
            raise InvalidInput(
                f"{at}.redactWith.borderThickness",
                expected={"type": "integer", "greaterThan": 0},
                message="borderThickness must be greater than zero",
            )
    wf = await tenant_workfile(request, req.input.source.fileId)
    if wf is None:
        raise ApiError("ResourceNotFound", at="input.source.fileId")
    normalised: dict[str, Any] = req.input.model_dump(exclude_none=True)
    return await start(request, REDACTION_CREATION, normalised, req.minSecondsAvailable, affinity=wf.affinity_token)


async def post_markup_burner(request: web.Request) -> web.Response:
    """Burn a markup JSON work file into a document. As in PrizmDoc, work files that do not exist (or
    are another tenant's) end the process with DocumentFileIdDoesNotExist / MarkupFileIdDoesNotExist."""
    settings = request.app[keys.SETTINGS]
    req = await read_model(request, MarkupBurnerRequest, settings.max_json_bytes)
    document = await tenant_workfile(request, req.input.documentFileId)
    markup = await tenant_workfile(request, req.input.markupFileId)
    affinity = (document or markup).affinity_token if (document or markup) else ""
    normalised = req.input.model_dump()
    return await start(request, MARKUP_BURNING, normalised, req.minSecondsAvailable, affinity=affinity)


async def post_plain_text_redactor(request: web.Request) -> web.Response:
    """The document's text with the markup's redactions applied, as a txt work file."""
    settings = request.app[keys.SETTINGS]
    req = await read_model(request, PlainTextRedactorRequest, settings.max_json_bytes)
    source = await tenant_workfile(request, req.input.source.fileId)
    if source is None:
        raise ApiError("ResourceNotFound", at="input.source.fileId")
    if await tenant_workfile(request, req.input.markup.fileId) is None:
        raise ApiError("ResourceNotFound", at="input.markup.fileId")
    normalised = req.input.model_dump()
    return await start(
        request, PLAIN_TEXT_REDACTION, normalised, req.minSecondsAvailable, affinity=source.affinity_token
    )
