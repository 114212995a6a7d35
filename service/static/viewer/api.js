// The viewer's requests: the PCCIS viewer routes of one viewing session. No API key is ever sent:
// the session id in each URL is the credential. Failures become a ViewerError with a `kind`.

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    });
  });

/** An answer the viewer cannot use, classified for the user:
 *  password (480/4001), expired (403), auth (401), nopage (404/4004), page (a page failed to render),
 *  unreadable (580: the document cannot be read, with the server's message), retry (slow or unreachable). */
export class ViewerError extends Error {
  constructor(status, code, number, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "";
    this.number = number || 0;
  }

  get kind() {
    const { status, number, code } = this;
    if (status === 0 || status === 502 || status === 503 || status === 504) return "retry";
    if (status === 401) return "auth";
    if (status === 403) return "expired";
    if (number === 4001 || code === "InvalidPassword") return "password";
    if (number === 4004 || code === "NoSuchPage") return "nopage";
    if (number === 5008 || number === 5009) return "page";
    return "unreadable";
  }
}

export async function errorOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  const number = Number(response.headers.get("Accusoft-Status-Number")) || 0;
  const message = response.headers.get("Accusoft-Status-Message") || body.message || "";
  return new ViewerError(response.status, body.errorCode, number, message);
}

export class Api {
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.documentId = "u" + encodeURIComponent(sessionId);
  }

  query(params = {}) {
    const extra = Object.entries(params)
      .filter(([, value]) => value !== null && value !== undefined)
      .map(([name, value]) => `&${name}=${encodeURIComponent(value)}`)
      .join("");
    return `?DocumentID=${this.documentId}${extra}`;
  }

  /** Page n (0-based); without a scale, the rendering the server pre-converts (and the page preloads). */
  pageUrl(n, scale = null) {
    return `/PCCIS/V1/Page/q/${n}` + this.query({ Scale: scale });
  }

  thumbnailUrl(n, width, height) {
    return `/PCCIS/V1/Page/q/${n}/${width}x${height}` + this.query();
  }

  attributesUrl(confidence, withSizes) {
    return "/PCCIS/V1/Document/q/Attributes" +
      this.query({ DesiredPageCountConfidence: confidence, IncludePageSizes: withSizes ? "true" : null });
  }

  textUrl(first, last, positions = false) {
    return `/PCCIS/V1/Document/q/${first}-${last}/Text` + this.query({ Positions: positions ? "characters" : null });
  }

  searchUrl() {
    return `/v2/viewingSessions/${encodeURIComponent(this.sessionId)}/searchTasks`;
  }

  /** A search task's results from `token` on; DocumentID names the session the task belongs to. */
  resultsUrl(processId, token, limit = 500) {
    return `/v2/searchTasks/${encodeURIComponent(processId)}/results` +
      this.query({ limit, continueToken: token });
  }

  sourceUrl(name = "document") {
    return `/PCCIS/V1/ViewingSession/u${encodeURIComponent(this.sessionId)}/SourceFile` +
      `?ContentDispositionFilename=${encodeURIComponent(name)}`;
  }

  pdfUrl(name = "document") {
    return `/PCCIS/V1/ViewingSession/u${encodeURIComponent(this.sessionId)}/Pdf` +
      `?ContentDispositionFilename=${encodeURIComponent(name)}`;
  }

  /** The response to `url`, waiting through a slow server: 504 (not rendered within the server's wait)
   *  is asked again at once, 502/503 and network failures after a growing pause. `onWait(error)` is
   *  called each time it waits. Anything else that is not 2xx throws a ViewerError. */
  async fetch(url, { signal, method = "GET", onWait, body } = {}) {
    let pause = 500;
    const headers = body === undefined ? undefined : { "Content-Type": "application/json" };
    for (;;) {
      let error;
      try {
        const response = await fetch(url, { signal, method, headers, body, credentials: "same-origin" });
        if (response.ok) return response;
        error = await errorOf(response);
      } catch (exc) {
        if (exc.name === "AbortError") throw exc;
        error = new ViewerError(0, "NetworkError", 0, "The server cannot be reached");
      }
      if (error.kind !== "retry") throw error;
      onWait?.(error);
      if (error.status !== 504) {
        await sleep(pause, signal);
        pause = Math.min(pause * 2, 5000);
      }
    }
  }

  async json(url, options) {
    return (await this.fetch(url, options)).json();
  }
}
