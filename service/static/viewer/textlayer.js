// The text layer: transparent text laid over a page image from the server's character boxes
// (Document/q/{n}-{n}/Text?Positions=characters), so the page's text can be selected and copied.
// A server without character boxes gets no text layer; the images still show.

const measure = document.createElement("canvas").getContext("2d");
const FONT = "sans-serif";

/** The page's text as runs of characters on one line (with their box), and line breaks. */
export function runs(text, chars) {
  const out = [];
  let run = null;
  const close = () => {
    if (run) out.push(run);
    run = null;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const [x, y, w, h] = [chars[4 * i], chars[4 * i + 1], chars[4 * i + 2], chars[4 * i + 3]];
    if (!w && !h) {
      // no geometry: a line break (or a space) PDFium inserted
      if (ch === "\n") {
        close();
        out.push({ text: "\n" });
      } else if (ch === "\r") {
        if (text[i + 1] !== "\n") {
          close();
          out.push({ text: "\n" });
        }
      } else if (run) run.text += ch;
      else out.push({ text: ch });
      continue;
    }
    const sameLine = run && Math.abs(y + h / 2 - (run.y + run.h / 2)) < Math.max(h, run.h) / 2 && x >= run.right - h;
    if (sameLine) {
      run.text += ch;
      run.right = Math.max(run.right, x + w);
      const bottom = Math.max(run.y + run.h, y + h);
      run.y = Math.min(run.y, y);
      run.h = bottom - run.y;
    } else {
      close();
      run = { text: ch, x, y, h, right: x + w };
    }
  }
  close();
  return out;
}

export class TextLayer {
  constructor({ api }) {
    this.api = api;
    this.supported = true;
    this.loading = new Map(); // page -> AbortController
  }

  /** Give page element `el` (page n) its text layer, once its image is shown. */
  async attach(n, el) {
    if (!this.supported || this.loading.has(n) || el.querySelector(".pm-text")) return;
    const controller = new AbortController();
    this.loading.set(n, controller);
    try {
      const answer = await this.api.json(this.api.textUrl(n, n, true), { signal: controller.signal });
      const page = answer.pages?.[0];
      if (!page || !Array.isArray(page.chars)) {
        this.supported = false; // this server has no character boxes
        return;
      }
      if (el.dataset.state !== "loaded" || el.querySelector(".pm-text")) return;
      el.append(this.build(page));
      this.fit(el, el.clientWidth);
    } catch {
      // no text layer for this page: the image still shows
    } finally {
      if (this.loading.get(n) === controller) this.loading.delete(n);
    }
  }

  build(page) {
    const layer = document.createElement("div");
    layer.className = "pm-text";
    layer.dataset.width = String(page.width);
    layer.style.width = `${page.width}px`;
    layer.style.height = `${page.height}px`;
    for (const run of runs(page.text, page.chars)) {
      if (run.x === undefined) {
        layer.append(document.createTextNode(run.text));
        continue;
      }
      const span = document.createElement("span");
      span.textContent = run.text;
      const size = Math.max(1, run.h);
      span.style.left = `${run.x}px`;
      span.style.top = `${run.y}px`;
      span.style.fontSize = `${size}px`;
      span.style.lineHeight = `${size}px`;
      measure.font = `${size}px ${FONT}`;
      const natural = measure.measureText(run.text).width;
      if (natural > 0) span.style.transform = `scaleX(${(run.right - run.x) / natural})`;
      layer.append(span);
    }
    return layer;
  }

  /** Scale page `el`'s layer to the page's current width (CSS pixels). */
  fit(el, width) {
    const layer = el.querySelector(".pm-text");
    if (!layer) return;
    const scale = width / Number(layer.dataset.width);
    layer.style.transform = `scale(${scale})`;
  }

  release(n, el) {
    this.loading.get(n)?.abort();
    this.loading.delete(n);
    el?.querySelector(".pm-text")?.remove();
  }
}
