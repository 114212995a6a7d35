// The pages: one element per page (data-page, 0-based; data-state placeholder|loading|loaded|error),
// sized from the layout at once, its image fetched only while it is near the viewport and released
// when it is far, so a 2,000-page document holds a few dozen images at most.

import { GAP } from "./layout.js";

const NEAR = 2; // pages beyond the visible ones that are loaded ahead
const KEEP = 6; // pages beyond the visible ones whose images are kept
const MAX_LOADING = 3; // page requests at once (a browser has 6 connections per server)
const SLOW_MS = 700; // a page taking longer shows a spinner

export class Pages {
  constructor({ scroller, doc, api, layout, status, onCurrent, onLoaded, onPlaced, onReleased }) {
    Object.assign(this, { scroller, doc, api, layout, status, onCurrent, onLoaded, onPlaced, onReleased });
    this.elements = [];
    this.inflight = new Map(); // page -> {controller, scale}
    this.current = 0;
    this.first = 0;
    this.last = 0;
    this.scheduled = false;
    this.painted = false;
    scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.onResize?.()).observe(scroller);
  }

  get count() {
    return this.elements.length;
  }

  element(n) {
    return this.elements[n];
  }

  /** Make (or drop) page elements to match the layout's count, then place them. */
  sync() {
    const count = this.layout.count;
    while (this.elements.length > count) {
      const n = this.elements.length - 1;
      this.release(n);
      this.elements.pop().remove();
    }
    const fragment = document.createDocumentFragment();
    for (let n = this.elements.length; n < count; n++) {
      const el = document.createElement("div");
      el.className = "pm-page";
      el.dataset.page = String(n);
      el.dataset.state = "placeholder";
      el.setAttribute("role", "group");
      const spinner = document.createElement("div");
      spinner.className = "pm-spinner";
      spinner.setAttribute("aria-hidden", "true");
      el.append(spinner);
      this.elements.push(el);
      fragment.append(el);
    }
    this.doc.append(fragment);
    this.place();
  }

  /** Position every page for the current zoom, keeping `anchor` ({page, offset}) where it was. */
  place(anchor = this.anchor()) {
    this.layout.compute(this.scroller.clientWidth);
    this.doc.style.height = `${this.layout.height}px`;
    this.doc.style.width = `${this.layout.width}px`;
    const count = this.elements.length;
    this.elements.forEach((el, n) => {
      const box = this.layout.box(n);
      el.style.transform = `translate(${box.left}px, ${box.top}px)`;
      el.style.width = `${box.width}px`;
      el.style.height = `${box.height}px`;
      el.setAttribute("aria-label", `Page ${n + 1} of ${count}`);
      if (el.dataset.state === "loaded") this.onPlaced?.(n, el, box);
    });
    if (anchor && anchor.page < count) {
      const box = this.layout.box(anchor.page);
      this.scroller.scrollTop = box.top + anchor.offset * box.height - GAP;
    }
    this.schedule();
  }

  /** Which page is at the top of the viewport, and how far into it. */
  anchor() {
    if (!this.layout.tops.length) return null;
    const y = this.scroller.scrollTop + GAP;
    const page = this.layout.pageAt(y);
    const box = this.layout.box(page);
    return { page, offset: box.height ? Math.max(0, (y - box.top) / box.height) : 0 };
  }

  /** Scroll page n to the top (or a fraction `offset` of its height into it). */
  scrollToPage(n, offset = 0) {
    n = Math.max(0, Math.min(this.count - 1, n));
    this.place({ page: n, offset });
    this.update();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.update();
    });
  }

  /** Work out what is visible; load what is near, release what is far. */
  update() {
    if (!this.count) return;
    const top = this.scroller.scrollTop;
    const bottom = top + this.scroller.clientHeight;
    this.first = this.layout.pageAt(top);
    this.last = this.layout.pageAt(bottom);
    const middle = this.layout.pageAt(top + Math.min(this.scroller.clientHeight / 3, 200));
    if (middle !== this.current) {
      this.current = middle;
      this.onCurrent?.(middle);
    }
    const keepFrom = this.first - KEEP;
    const keepTo = this.last + KEEP;
    for (const [n] of this.inflight) if (n < keepFrom || n > keepTo) this.release(n);
    for (const el of this.doc.querySelectorAll('.pm-page[data-state="loaded"],.pm-page[data-state="error"]')) {
      const n = Number(el.dataset.page);
      if (n < keepFrom || n > keepTo) this.release(n);
    }
    this.pump();
  }

  /** The pages to load next, nearest to the current one first. */
  wanted() {
    // Until something has painted, pages come in the default rendering (the one the server pre-converts
    // and the page preloads); sharper ones replace them afterwards when the zoom or screen needs them.
    const scale = this.painted ? this.layout.scaleFor(window.devicePixelRatio || 1) : null;
    const from = Math.max(0, this.first - NEAR);
    const to = Math.min(this.count - 1, this.last + NEAR);
    const missing = [];
    const blurry = [];
    for (let n = from; n <= to; n++) {
      if (this.inflight.has(n)) continue;
      const el = this.elements[n];
      if (el.dataset.state === "placeholder") missing.push(n);
      else if (el.dataset.state === "loaded" && (el.dataset.scale || "") !== String(scale ?? "") &&
               n >= this.first && n <= this.last) blurry.push(n);
    }
    const near = (a, b) => Math.abs(a - this.current) - Math.abs(b - this.current);
    return { scale, pages: [...missing.sort(near), ...blurry.sort(near)] };
  }

  pump() {
    if (this.status.failed) return;
    const { scale, pages } = this.wanted();
    for (const n of pages) {
      if (this.inflight.size >= MAX_LOADING) break;
      this.load(n, scale);
    }
  }

  /** Fetch page n's image and show it (the old image, if any, stays until the new one is decoded). */
  async load(n, scale) {
    const el = this.elements[n];
    const controller = new AbortController();
    this.inflight.set(n, { controller, scale });
    if (el.dataset.state !== "loaded") el.dataset.state = "loading";
    const slow = setTimeout(() => el.classList.add("pm-slow"), SLOW_MS);
    const started = performance.now();
    try {
      const response = await this.api.fetch(this.api.pageUrl(n, scale), {
        signal: controller.signal,
        onWait: () => {
          el.classList.add("pm-slow");
          this.status.slow(true);
        },
      });
      const url = URL.createObjectURL(await response.blob());
      const image = new Image();
      image.className = "pm-image";
      image.alt = "";
      image.draggable = false;
      image.src = url;
      try {
        await image.decode();
      } catch (exc) {
        URL.revokeObjectURL(url);
        throw exc;
      }
      if (controller.signal.aborted) {
        URL.revokeObjectURL(url);
        return;
      }
      this.dropImage(el);
      el.prepend(image);
      el.dataset.scale = String(scale ?? "");
      el.dataset.state = "loaded";
      this.painted = true;
      el.dataset.ms = String(Math.round(performance.now() - started));
      this.status.slow(false);
      this.onLoaded?.(n, image);
    } catch (exc) {
      if (exc.name === "AbortError") return;
      this.failed(n, exc);
    } finally {
      clearTimeout(slow);
      el.classList.remove("pm-slow");
      if (this.inflight.get(n)?.controller === controller) this.inflight.delete(n);
      if (!controller.signal.aborted) this.schedule();
    }
  }

  failed(n, exc) {
    const el = this.elements[n];
    const kind = exc.kind || "page"; // not a ViewerError: the image itself could not be decoded
    if (kind === "nopage") {
      // an estimated count was too high: the real count will drop this page
      el.dataset.state = "error";
      return;
    }
    if (kind === "page") {
      el.dataset.state = "error";
      let note = el.querySelector(".pm-page-error");
      if (!note) {
        note = document.createElement("div");
        note.className = "pm-page-error";
        el.append(note);
      }
      note.textContent = `Page ${n + 1} could not be shown: ${exc.message}`;
      return;
    }
    this.fail(kind, exc.message);
  }

  /** The whole document cannot be shown: stop every request and say why. */
  fail(kind, message) {
    for (const [n] of this.inflight) this.release(n);
    this.status.fail(kind, kind === "unreadable" ? message : "");
  }

  dropImage(el) {
    const image = el.querySelector("img.pm-image");
    if (image) {
      URL.revokeObjectURL(image.src);
      image.remove();
    }
  }

  /** Forget page n's image (and abort its request): it becomes a placeholder again. */
  release(n) {
    const entry = this.inflight.get(n);
    if (entry) {
      entry.controller.abort();
      this.inflight.delete(n);
    }
    const el = this.elements[n];
    if (!el) return;
    this.onReleased?.(n, el);
    this.dropImage(el);
    el.querySelector(".pm-page-error")?.remove();
    delete el.dataset.scale;
    el.dataset.state = "placeholder";
  }

  loadedCount() {
    return this.doc.querySelectorAll("img.pm-image").length;
  }
}
