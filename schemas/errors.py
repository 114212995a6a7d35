"""Every errorCode's human sentence: one table, read by HTTP errors and by failed processes alike."""

MESSAGES: dict[str, str] = {
    # requests
    "InvalidInput": "The request has an invalid value.",
    "NotFound": "There is no such resource.",
    "MethodNotAllowed": "This route does not take that HTTP method.",
    "RequestBodyTooLarge": "The request body is larger than this server accepts.",
    "QuotaExceeded": "This would take your stored files past your storage quota; delete some or let them expire.",
    "Unauthorized": "An API key is required (Acs-Api-Key header, Bearer token or HTTP Basic password).",
    "ServiceUnavailable": "The service cannot reach its Redis or storage right now; retry after Retry-After seconds.",
    "InternalError": "Something failed inside the server; the request id identifies it in the logs.",
    "StorageError": "The server could not read or write its storage (for example, the disk is full).",
    "TooManyQueuedJobs": "Too many jobs are waiting; retry after Retry-After seconds.",
    "TooManyConcurrentUploads": "You are sending too many request bodies at once; retry after Retry-After seconds.",
    "ServerBusy": "The server is receiving too many request bodies at once; retry after Retry-After seconds.",
    "IdempotencyKeyReused": "This Idempotency-Key was used for a different request.",
    "IdempotentRequestInProgress": "The first request with this Idempotency-Key is still being processed.",
    "UnsupportedMediaType": "The request's Content-Type is not one this route accepts.",
    "LengthRequired": "This request needs a Content-Length header.",
    "RequestTimeout": "The body stopped arriving; send the request again.",
    "IncompleteBody": "The connection closed before the whole body arrived.",
    # work files and conversions
    "WorkFileDoesNotExist": "No work file has this id (it may have expired or belong to another tenant).",
    "ProcessDoesNotExist": "No process has this id (it may have expired).",
    "QueuedJobDoesNotExist": "No queued job has this id (it may have expired).",
    "UnsupportedSourceFileFormat": "This kind of file cannot be converted; the expected formats are listed.",
    "UnrecognizedFileFormat": "The file type could not be detected; pass FileExtension.",
    "SourceFileIsEmpty": "The source work file is empty.",
    "InvalidPageSyntax": 'The pages value is not a page list such as "1-3,7" or "2-".',
    "InvalidDimensionValue": 'maxWidth and maxHeight must be strings such as "800px", within the server\'s limit.',
    "MultipleSourcesAreNotSupportedForThisDestinationFormat": "Only pdf and tiff outputs combine several sources.",
    "UnsupportedDestinationFormatWhenUsingHeaderOrFooter": "Headers and footers are for pdf and tiff output only.",
    "ForceOneFilePerPageNotSupportedWhenUsingHeaderOrFooter": "Headers and footers need forceOneFilePerPage false.",
    "PagesPropertyNotSupportedWhenUsingHeaderOrFooter": "Headers and footers number every page: pages cannot be given.",
    "MultipleSourceDocumentsNotSupportedWhenUsingHeaderOrFooter": "Headers and footers take a single source document.",
    "UnrecognizedExpression": "Header or footer text has an expression in double curly braces that is not a token.",
    "RequestedHeaderOrFooterFontIsNotAvailable": "The header or footer fontFamily is not installed on this server.",
    "SvgRenderFailed": "The page could not be drawn as SVG (pdftocairo failed, timed out or is not installed).",
    "UnsupportedSourceFileFormatForOCR": "OCR reads PDFs and images only; the expected formats are listed.",
    "OcrFailed": "The page could not be read by OCR (Tesseract failed, timed out or is not installed).",
    "CouldNotConvert": "The document could not be converted; each result's errorCode says why.",
    "CorruptFile": "The document is damaged or is not the type it claims to be.",
    "InvalidPassword": "The document is password-protected and the password is missing or wrong.",
    "UnsupportedSecurityHandler": "The document uses an encryption scheme that cannot be opened.",
    "ImageTooLarge": "An image in the document is larger than this server accepts (a possible decompression bomb).",
    "TooManyPages": "The document has more pages than this server converts in one process.",
    "CouldNotOpenDocument": "The document could not be opened in time (it may be hostile or damaged).",
    "ConversionTimeout": "LibreOffice took too long to convert the document and was stopped.",
    "DocumentTooLarge": "The document's package expands to more than this server reads (a possible zip bomb).",
    "NoSuchPage": "The document has no such page.",
    "PageRenderTimeout": "A page took too long to render and was given up.",
    "PageRenderFailed": "A page crashed the renderer repeatedly and was given up.",
    "CouldNotAssembleOutput": "The pages were rendered but could not be assembled into the output file.",
    "Cancelled": "The process was cancelled by a DELETE request; its partial outputs were deleted.",
    "ProcessAlreadyFinished": "The process has already finished, so it cannot be cancelled.",
    "ProcessNotComplete": "The process has not completed (it is still processing, or it failed).",
    "JobNotComplete": "The job is still running.",
    "JobFailed": "The job failed; its errorCode says why.",
    "OutputExpired": "The output has expired.",
    # search and redaction
    "ResourceNotFound": "No work file has this id (it may have expired or belong to another tenant).",
    "MarkupCreationError": "Redactions could not be created for this document (it may be damaged or protected).",
    "RedactionError": "The markup could not be burned into the document (the markup or the document is unusable).",
    "InvalidMarkup": "The markup JSON does not follow PrizmDoc's markup schema; errorDetails.at says where.",
    "InvalidJson": "The markup file is not JSON.",
    "DocumentFileIdDoesNotExist": "The document work file does not exist (it may have expired).",
    "MarkupFileIdDoesNotExist": "The markup work file does not exist (it may have expired).",
    # viewing sessions and viewer pages
    "ViewingSessionDoesNotExist": "No viewing session has this id.",
    "ViewingSessionExpired": "The viewing session has expired.",
    "CannotChangeDocument": "The viewing session already has its document.",
    "CannotDeleteCachedViewingSession": (
        'A session with serverCaching "full" cannot be deleted; it expires. '
        "Post Notification/SessionStopped to stop its rendering."
    ),
    "DocumentNotProvidedYet": "The viewing session has no document yet.",
    "PdfNotAvailable": "This document has no PDF form here (an image: download the original, or convert it).",
    "SessionStopped": "The viewing session was stopped.",
    "NotReadyYet": "The page is not ready yet; retry.",
    "SvgNotAvailable": "Pages are available as raster images (png, jpeg) only.",
    "InputNotSupportedWithServerCachingEnabled": 'This property needs serverCaching "none".',
    "SourceDownloadFailed": "The document could not be downloaded from its URL.",
    "SourceAddressNotAllowed": "The URL points at an address this server may not connect to.",
    "SourceTooLarge": "The document at the URL is larger than this server accepts.",
    "InvalidSourceUrl": "The URL is not an absolute http or https URL.",
    "SourceUnavailable": "The document could not be acquired.",
    "FileSourceDisabled": 'documentSource "file" is not enabled on this server (PAGEMILL_FILE_SOURCE_ROOT).',
    "SourcePathNotAllowed": "The file path leads outside the directory this server may read.",
    "SourceFileNotFound": "There is no such file below the server's file source directory.",
    "WatermarkImageNotFound": "The watermark image work file does not exist.",
    "WatermarkImageNotPng": "Watermark images must be PNG files.",
    "WatermarkImageTooLarge": "The watermark image is larger than this server accepts.",
    "WatermarkImageUnavailable": "The watermark image could not be downloaded.",
    "WatermarkImageUnreadable": "The watermark image could not be decoded.",
    # uploads
    "UploadDoesNotExist": "No upload has this id.",
    "UploadSessionDoesNotExist": "No upload session has this id.",
    "UploadExpired": "The upload has expired.",
    "UploadBusy": "Another request is writing to this upload; retry.",
    "UploadLocked": "Another request is writing to this upload; retry.",
    "UploadIncomplete": "Not every byte of the upload has arrived yet.",
    "UploadSessionSaved": "The upload session was already saved.",
    "UploadLengthExceeded": "The upload is longer than its declared length.",
    "InvalidContentRange": "Content-Range must be 'bytes start-end/total'.",
    "ContentLengthMismatch": "Content-Length does not match the Content-Range.",
    "IncompletePart": "The part broke off before its last byte; it was discarded.",
    "IncompleteChunk": "The chunk broke off before its last byte.",
    "PartGap": "The part does not start where the upload ends; resume from the expected offset.",
    "PartOverlap": "The part overlaps bytes already received; resume from the expected offset.",
    "PartConflict": "The part differs from the bytes already received at that offset.",
    "TotalChanged": "The part's total differs from the upload's.",
    "OffsetMismatch": "Upload-Offset is not the upload's current offset.",
    "ChecksumMismatch": "The chunk's checksum does not match its bytes; it was discarded.",
    "InvalidChecksum": "Upload-Checksum is not 'algorithm base64-digest'.",
    "UnsupportedChecksumAlgorithm": "Upload-Checksum supports sha1 and sha256.",
    "InvalidUploadLength": "Upload-Length must be a non-negative integer.",
    "InvalidUploadOffset": "Upload-Offset must be a non-negative integer.",
    "InvalidUploadMetadata": "Upload-Metadata must be comma-separated 'key base64value' pairs.",
    "UnsupportedTusVersion": "This server speaks tus 1.0.0.",
    # file service
    "FileDoesNotExist": "No file has this name.",
    "VersionDoesNotExist": "The file has no such version.",
    "InvalidFilename": "File names must not contain path separators or control characters.",
    "LinkExpired": "The signed link has expired or was altered.",
}


def message_for(error_code: str) -> str:
    """The human sentence for an errorCode (a generic one for codes not in the table)."""
    return MESSAGES.get(error_code, f"The request failed ({error_code}).")


def result_messages(results: list[dict[str, object]]) -> list[dict[str, object]]:
    """Output results with a `message` beside every result's errorCode."""
    return [{**r, "message": message_for(str(r["errorCode"]))} if "errorCode" in r else r for r in results]


def process_message(error_code: str, results: list[dict[str, object]] | None = None) -> str:
    """Why a process ended in error, in one sentence: the first failed result's cause when there is one."""
    causes = [str(r["errorCode"]) for r in results or [] if "errorCode" in r]
    if causes and causes[0] != error_code:
        cause = message_for(causes[0])
        return f"{message_for(error_code).split(';')[0]}: {cause[0].lower()}{cause[1:]}"
    return message_for(error_code)
