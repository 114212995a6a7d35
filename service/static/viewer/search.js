// Search: a server-side search task over the session's document (POST
// /v2/viewingSessions/{id}/searchTasks), its results read page by page as they come
// (GET /v2/searchTasks/{processId}/results, continueToken), every hit drawn on its page as an
// element of class pm-hit, next/previous hit and the count of hits.

const POLL_MS = 300;

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    }, { once: true });
  });

export class Search {
  constructor({ api, pages, status, input, count, prev, next }) {
    Object.assign(this, { api, pages, status, input, count, prev, next });
    this.hits = []; // {pageIndex, elements}
    this.current = -1;
    this.query = "";
    this.controller = null;
    this.done = true;
    prev.addEventListener("click", () => this.step(-1));
    next.addEventListener("click", () => this.step(1));
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        if (input.value.trim() !== this.query) this.run(input.value.trim());
        else this.step(event.shiftKey ? -1 : 1);
      } else if (event.key === "Escape") {
        input.value = "";
        this.run("");
      }
    });
    input.addEventListener("search", () => {
      if (!input.value) this.run(""); // the clear button of input[type=search]
    });
  }

  clear() {
    this.controller?.abort();
    this.controller = null;
    for (const el of this.pages.doc.querySelectorAll(".pm-hit")) el.remove();
    this.hits = [];
    this.current = -1;
    this.show();
  }

  async run(query) {
    this.clear();
    this.query = query;
    if (!query) return;
    const controller = new AbortController();
    this.controller = controller;
    this.done = false;
    this.show();
    const body = JSON.stringify({
      input: { searchTerms: [{ type: "simple", pattern: escapeRegExp(query), caseSensitive: false }] },
    });
    try {
      const task = await this.api.json(this.api.searchUrl(), { method: "POST", body, signal: controller.signal });
      let token = null;
      for (;;) {
        const answer = await this.api.json(this.api.resultsUrl(task.processId, token), { signal: controller.signal });
        answer.results.forEach((result) => this.add(result));
        if (answer.state === "error") throw new Error(answer.message || answer.errorCode);
        if (!answer.continueToken) break;
        if (answer.continueToken === token || !answer.results.length) await sleep(POLL_MS, controller.signal);
        token = answer.continueToken;
      }
      this.done = true;
      this.show();
    } catch (exc) {
      if (exc.name === "AbortError") return;
      this.done = true;
      const missing = exc.status === 404 || exc.status === 405;
      this.count.textContent = missing ? "Search is not available" : "Search failed";
      this.status.say(missing ? "This server does not search documents." : `Search failed: ${exc.message}`);
    }
  }

  /** Draw one result on its page (one element per line it covers). */
  add(result) {
    const el = this.pages.element(result.pageIndex);
    if (!el) return;
    const { width, height } = result.pageData;
    const index = this.hits.length;
    const elements = result.lineRectangles.map((rect) => {
      const hit = document.createElement("div");
      hit.className = "pm-hit";
      hit.dataset.hit = String(index);
      hit.style.left = `${(rect.x / width) * 100}%`;
      hit.style.top = `${(rect.y / height) * 100}%`;
      hit.style.width = `${(rect.width / width) * 100}%`;
      hit.style.height = `${(rect.height / height) * 100}%`;
      el.append(hit);
      return hit;
    });
    this.hits.push({ pageIndex: result.pageIndex, rect: result.boundingRectangle, height, elements });
    if (index === 0) this.select(0);
    this.show();
  }

  step(direction) {
    if (!this.hits.length) return;
    this.select((this.current + direction + this.hits.length) % this.hits.length);
  }

  select(index) {
    this.hits[this.current]?.elements.forEach((el) => el.classList.remove("pm-hit-current"));
    this.current = index;
    const hit = this.hits[index];
    hit.elements.forEach((el) => el.classList.add("pm-hit-current"));
    this.pages.scrollToPage(hit.pageIndex, Math.max(0, hit.rect.y / hit.height - 0.1));
    this.show();
  }

  show() {
    const total = this.hits.length;
    const more = this.done ? "" : "…";
    if (!this.query) this.count.textContent = "";
    else if (!total) this.count.textContent = this.done ? "No matches" : "Searching…";
    else this.count.textContent = `${this.current + 1} of ${total}${more}`;
    this.prev.disabled = this.next.disabled = total === 0;
  }
}
