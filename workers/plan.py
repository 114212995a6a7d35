"""Turning a conversion's input and its sources' page counts into units, chunks and output groups."""

from typing import Any

from schemas import formats
from schemas.pages import format_pages, parse_pages
from schemas.records import OutputGroup, Plan, Unit

MAX_MISSING_RESULTS = 1000  # per span; past that a span of missing pages is one NoSuchPage result


def one_file_per_page(dest: dict[str, Any]) -> bool:
    """png/jpeg always give one result per page; pdf/tiff only with forceOneFilePerPage (the registry's defaults)."""
    if formats.by_output(dest["format"]).one_file_per_page:
        return True
    return bool(dest.get(f"{dest['format']}Options", {}).get("forceOneFilePerPage"))


def _opener(extension: str) -> str | None:
    known = formats.by_extension(extension)
    return known.opener if known else None


def _error_source(src: dict[str, Any], spans: list[tuple[int, int]]) -> dict[str, str]:
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    pages = ",".join(str(a) if a == b else f"{a}-{b}" for a, b in merged)
    item = {"fileId": src["fileId"], "pages": pages}
    if src.get("password") is not None:
        item["password"] = src["password"]
    return item


def _missing_results(src: dict[str, Any], span: tuple[int, int]) -> list[OutputGroup]:
    """NoSuchPage results for one span of missing pages: one per page as PrizmDoc gives them, or one
    for the whole span when it is longer than anyone could mean (so "1-999999999" costs nothing)."""
    first, last = span
    if last - first < MAX_MISSING_RESULTS:
        return [
            OutputGroup(error_code="NoSuchPage", error_sources=[_error_source(src, [(n, n)])])
            for n in range(first, last + 1)
        ]
    return [OutputGroup(error_code="NoSuchPage", error_sources=[_error_source(src, [span])])]


def make_plan(inp: dict[str, Any], page_counts: list[int], extensions: list[str], chunk_pages: int) -> Plan:
    """Decide every unit of work and every result, before any page is rendered."""
    dest = inp["dest"]
    per_page = one_file_per_page(dest)
    units: list[Unit] = []
    groups: list[OutputGroup] = []
    missing_by_source: list[tuple[dict[str, Any], list[tuple[int, int]]]] = []
    for s, (src, count) in enumerate(zip(inp["sources"], page_counts, strict=True)):
        missing: list[tuple[int, int]] = []  # spans of 1-based pages past the end, never materialised
        for first, last in parse_pages(src.get("pages", "")):
            end = count if last is None else last
            for n in range(first, min(end, count) + 1):
                units.append(Unit(s=s, p=n - 1))
                if per_page:
                    groups.append(OutputGroup(units=[len(units) - 1]))
            if end > count:
                span = (max(first, count + 1), end)
                missing.append(span)
                if per_page:
                    groups += _missing_results(src, span)
        if missing:
            missing_by_source.append((src, missing))
    if not per_page:
        if missing_by_source:
            sources = [_error_source(src, spans) for src, spans in missing_by_source]
            groups = [OutputGroup(error_code="NoSuchPage", error_sources=sources)]
            units = []
        else:
            groups = [OutputGroup(units=list(range(len(units))))]
    if dest["format"] == "pdf" and not dest.get("pdfOptions", {}).get("ocr"):
        # PDF pages are imported as vectors at assembly; only raster pages need a per-page artifact
        # (with OCR every page does: its text layer).
        render = [i for i, u in enumerate(units) if _opener(extensions[u.s]) != "pdfium"]
    else:
        render = list(range(len(units)))
    return Plan(page_counts=page_counts, units=units, render=render, chunk_pages=chunk_pages, groups=groups)


def result_sources(inp: dict[str, Any], plan: Plan, unit_ids: list[int]) -> list[dict[str, str]]:
    """The `sources` of a result: for each source in order, which 1-based pages it contributed."""
    pages: dict[int, list[int]] = {}
    for u in unit_ids:
        unit = plan.units[u]
        pages.setdefault(unit.s, []).append(unit.p + 1)
    return [{"fileId": inp["sources"][s]["fileId"], "pages": format_pages(p)} for s, p in sorted(pages.items())]
