"""OCR languages: PrizmDoc's names (`dest.pdfOptions.ocr.language`) and the Tesseract language each one
means (Debian ships each as the package `tesseract-ocr-<code>`)."""

LANGUAGES: dict[str, str] = {
    "english": "eng",
    "arabic": "ara",
    "bulgarian": "bul",
    "catalan": "cat",
    "croatian": "hrv",
    "czech": "ces",
    "danish": "dan",
    "dutch": "nld",
    "estonian": "est",
    "finnish": "fin",
    "french": "fra",
    "german": "deu",
    "greek": "ell",
    "hebrew": "heb",
    "hindi": "hin",
    "hungarian": "hun",
    "icelandic": "isl",
    "indonesian": "ind",
    "italian": "ita",
    "japanese": "jpn",
    "korean": "kor",
    "latvian": "lav",
    "lithuanian": "lit",
    "norwegian": "nor",
    "polish": "pol",
    "portuguese": "por",
    "romanian": "ron",
    "russian": "rus",
    "serbian": "srp",
    "slovak": "slk",
    "slovenian": "slv",
    "spanish": "spa",
    "swedish": "swe",
    "thai": "tha",
    "turkish": "tur",
    "ukrainian": "ukr",
    "vietnamese": "vie",
}


def tesseract_code(language: str) -> str | None:
    """The Tesseract language of a PrizmDoc language name (any case), or None for names it does not know."""
    return LANGUAGES.get(language.strip().lower())


def package(code: str) -> str:
    """The Debian package that holds a Tesseract language's data."""
    return f"tesseract-ocr-{code.replace('_', '-').lower()}"
