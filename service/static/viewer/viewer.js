// pagemill's document viewer: /viewer?session=<viewingSessionId>[&page=N]. Wires the toolbar, the
// pages, the thumbnails and the keyboard to one viewing session's viewer routes.

import { Api } from "./api.js";
import { Layout, clampZoom, nextStep } from "./layout.js";
import { Pages } from "./pages.js";
import { printDocument } from "./printing.js";
import { Search } from "./search.js";
import { Status } from "./status.js";
import { TextLayer } from "./textlayer.js";
import { Thumbs } from "./thumbs.js";

const $ = (id) => document.getElementById(id);
const root = $("pm-viewer");
const status = new Status(root);
const params = new URLSearchParams(location.search);
const sessionId = params.get("session") || "";

if (/^[A-Za-z0-9_-]{16,128}$/.test(sessionId)) start(sessionId);
else status.fail("nosession");

function start(sessionId) {
  const api = new Api(sessionId);
  const layout = new Layout();
  const scroller = $("pm-pages");
  const sidebar = $("pm-sidebar");
  const pageInput = $("pm-page");
  const zoomSelect = $("pm-zoom");
  const narrow = window.matchMedia("(max-width: 640px)");
  const linked = Number.parseInt(params.get("page") || "", 10);
  let target = Number.isFinite(linked) && linked >= 1 ? linked - 1 : null; // a deep link, until shown
  let zoomMode = "fit-width";
  let countKnown = false;
  let firstPainted = false;
  let urlTimer = 0;
  let countsRequested = false;

  const text = new TextLayer({ api });
  const pages = new Pages({
    scroller,
    doc: $("pm-doc"),
    api,
    layout,
    status,
    onCurrent: (n) => showCurrent(n),
    onLoaded: (n, image) => loaded(n, image),
    onPlaced: (n, el, box) => text.fit(el, box.width),
    onReleased: (n, el) => text.release(n, el),
  });
  const search = new Search({
    api,
    pages,
    status,
    input: $("pm-search"),
    count: $("pm-hits"),
    prev: $("pm-hit-prev"),
    next: $("pm-hit-next"),
  });
  const thumbs = new Thumbs({
    sidebar,
    list: $("pm-thumbs"),
    api,
    onSelect: (n) => {
      goTo(n);
      if (narrow.matches) toggleSidebar(false);
    },
  });
  pages.onResize = () => (zoomMode === "custom" ? pages.place() : zoomTo(zoomMode));
  window.pagemillViewer = { api, layout, pages, thumbs, text, search }; // for scripts embedding the page, and tests

  // --- the document: pages known so far, then the estimated count, then the real one -------------
  toggleSidebar(!narrow.matches);
  setCount((target ?? 0) + 1, 0);
  zoomTo(zoomMode);
  if (target !== null) pages.scrollToPage(target);
  // The counts wait for the first page (or half a second): asking for them starts the document's
  // inspection on the server, which would compete with rendering the page the reader waits for.
  const countsAfter = setTimeout(readCounts, 500);

  async function readCounts() {
    clearTimeout(countsAfter);
    if (countsRequested) return;
    countsRequested = true;
    const onWait = () => status.slow(true);
    try {
      const first = await api.json(api.attributesUrl(50, true), { onWait });
      if (first.pageSizes) return setSizes(first);
      setCount(Math.max(first.pageCount, (target ?? 0) + 1), first.pageCountConfidence);
      setSizes(await api.json(api.attributesUrl(100, true), { onWait }));
    } catch (exc) {
      pages.fail(exc.kind || "unreadable", exc.message);
    }
  }

  function setCount(count, confidence) {
    layout.setCount(count);
    pages.sync();
    thumbs.setPages(layout.natural);
    root.dataset.pageCount = String(count);
    root.dataset.countConfidence = String(confidence);
    $("pm-count").textContent = confidence >= 100 ? `of ${count}` : confidence ? `of ~${count}` : "of …";
  }

  function setSizes(answer) {
    const anchor = pages.anchor();
    layout.setSizes(answer.pageSizes, answer.imageResolution);
    countKnown = true;
    setCount(answer.pageCount, 100);
    if (target !== null && target >= answer.pageCount) target = answer.pageCount - 1;
    zoomTo(zoomMode, target !== null ? { page: target, offset: 0 } : anchor);
    status.slow(false);
  }

  function loaded(n, image) {
    if (target === n) target = null;
    text.attach(n, pages.element(n));
    if (firstPainted) return;
    firstPainted = true;
    readCounts();
    requestAnimationFrame(() => (root.dataset.firstPaintMs = String(Math.round(performance.now()))));
    scroller.setAttribute("aria-busy", "false");
    if (layout.guessAspect(image.naturalWidth, image.naturalHeight)) {
      thumbs.setPages(layout.natural);
      zoomTo(zoomMode);
    }
    thumbs.start();
    offerPdf();
  }

  function showCurrent(n) {
    if (document.activeElement !== pageInput) pageInput.value = String(n + 1);
    thumbs.setCurrent(n);
    $("pm-prev-page").disabled = n <= 0;
    $("pm-next-page").disabled = n >= pages.count - 1;
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => {
      const url = new URL(location.href);
      url.searchParams.set("page", String(n + 1));
      history.replaceState(null, "", url);
    }, 400);
  }

  function goTo(n) {
    n = Math.max(0, Math.min(pages.count - 1, n));
    pages.scrollToPage(n);
    status.say(`Page ${n + 1} of ${pages.count}`);
  }

  // --- zoom ------------------------------------------------------------------------------------------
  function zoomTo(mode, anchor = pages.anchor()) {
    zoomMode = mode;
    const page = anchor ? anchor.page : 0;
    if (mode === "fit-width") layout.zoom = layout.fitWidth(scroller.clientWidth, page);
    else if (mode === "fit-page") layout.zoom = layout.fitPage(scroller.clientWidth, scroller.clientHeight, page);
    else if (mode !== "custom") layout.zoom = clampZoom(Number(mode));
    pages.place(anchor);
    const percent = `${Math.round(layout.zoom * 100)}%`;
    const option = [...zoomSelect.options].find((o) => o.value === mode || Number(o.value) === layout.zoom);
    if (option && option.value !== "custom") zoomSelect.value = option.value;
    else {
      zoomSelect.querySelector('option[value="custom"]').textContent = percent;
      zoomSelect.value = "custom";
    }
    root.dataset.zoom = String(layout.zoom);
  }

  function zoomStep(direction) {
    zoomTo(String(nextStep(layout.zoom, direction)));
  }

  zoomSelect.addEventListener("change", () => zoomTo(zoomSelect.value));
  $("pm-zoom-in").addEventListener("click", () => zoomStep(1));
  $("pm-zoom-out").addEventListener("click", () => zoomStep(-1));

  // --- navigation --------------------------------------------------------------------------------------
  $("pm-search-form").addEventListener("submit", (event) => event.preventDefault());
  $("pm-prev-page").addEventListener("click", () => goTo(pages.current - 1));
  $("pm-next-page").addEventListener("click", () => goTo(pages.current + 1));
  pageInput.addEventListener("change", () => {
    const value = Number.parseInt(pageInput.value, 10);
    if (Number.isFinite(value) && value >= 1 && value <= pages.count) goTo(value - 1);
    else pageInput.value = String(pages.current + 1);
  });
  pageInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") pageInput.dispatchEvent(new Event("change"));
  });
  pageInput.addEventListener("focus", () => pageInput.select());

  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest?.("input, select, textarea");
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "f") {
      const search = $("pm-search");
      if (search && !search.closest("[hidden]")) {
        event.preventDefault();
        search.focus();
        search.select();
      }
      return;
    }
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = {
      PageDown: () => goTo(pages.current + 1),
      PageUp: () => goTo(pages.current - 1),
      Home: () => goTo(0),
      End: () => goTo(pages.count - 1),
      "+": () => zoomStep(1),
      "=": () => zoomStep(1),
      "-": () => zoomStep(-1),
    };
    if (moves[event.key]) {
      event.preventDefault();
      moves[event.key]();
    }
  });

  // --- sidebar -------------------------------------------------------------------------------------------
  function toggleSidebar(show) {
    sidebar.hidden = !show;
    root.classList.toggle("pm-sidebar-open", show);
    $("pm-sidebar-toggle").setAttribute("aria-expanded", String(show));
    if (show) {
      thumbs.setCurrent(pages.current);
      thumbs.pump();
    }
  }
  $("pm-sidebar-toggle").addEventListener("click", () => {
    toggleSidebar(sidebar.hidden);
    if (zoomMode !== "custom") zoomTo(zoomMode);
  });

  // --- downloads and print -------------------------------------------------------------------------------
  async function download(url, button) {
    button.disabled = true;
    try {
      await api.fetch(url, { method: "HEAD" }); // errors are told here, not saved as a file
      const link = document.createElement("a");
      link.href = url;
      link.download = "";
      document.body.append(link);
      link.click();
      link.remove();
    } catch (exc) {
      status.say(`The download failed: ${exc.message}`);
    } finally {
      button.disabled = false;
    }
  }

  async function offerPdf() {
    try {
      const response = await fetch(api.pdfUrl(), { method: "HEAD", credentials: "same-origin" });
      $("pm-download-pdf").hidden = !response.ok;
    } catch {
      // no PDF button then
    }
  }

  $("pm-download").addEventListener("click", (event) => download(api.sourceUrl(), event.currentTarget));
  $("pm-download-pdf").addEventListener("click", (event) => download(api.pdfUrl(), event.currentTarget));
  $("pm-print").addEventListener("click", async (event) => {
    if (!countKnown) {
      status.say("The document is still being prepared; try again in a moment.");
      return;
    }
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await printDocument({ api, count: pages.count, status, container: $("pm-print-pages") });
    } finally {
      button.disabled = false;
    }
  });
}
