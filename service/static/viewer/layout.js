// Where every page sits: natural sizes (CSS pixels at 100%), the zoom, each page's box, which page
// is at a given height, and which image scale a zoom needs.

export const CSS_DPI = 96;
export const GAP = 12; // between pages and around the document, CSS pixels
export const ZOOM_STEPS = [0.25, 0.33, 0.5, 0.67, 0.75, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4];
export const DEFAULT_SIZE = [816, 1056]; // a Letter page at 96 dpi, until the document says otherwise
const SCALES = [2, 3, 4, 6, 8]; // image scales asked beyond the default one (few, so caches are shared)

export class Layout {
  constructor() {
    this.natural = []; // [width, height] per page, CSS pixels at 100%
    this.known = false; // sizes come from the server (not a guess)
    this.fallback = DEFAULT_SIZE;
    this.resolution = 150; // dpi of the default page images
    this.zoom = 1;
    this.tops = [];
    this.height = 0;
    this.width = 0;
  }

  get count() {
    return this.natural.length;
  }

  /** A page count before the sizes are known: every new page gets the fallback size. */
  setCount(count) {
    const next = this.natural.slice(0, count);
    while (next.length < count) next.push(this.fallback);
    this.natural = next;
  }

  /** The server's sizes ([w, h] pixels at `resolution` dpi) for every page. */
  setSizes(sizes, resolution) {
    this.resolution = resolution;
    const factor = CSS_DPI / resolution;
    this.natural = sizes.map(([w, h]) => [w * factor, h * factor]);
    this.known = true;
  }

  /** A better guess for pages of unknown size: the aspect of the first page's image. */
  guessAspect(width, height) {
    if (this.known || !width || !height) return false;
    this.fallback = [DEFAULT_SIZE[0], (DEFAULT_SIZE[0] * height) / width];
    this.natural = this.natural.map(() => this.fallback);
    return true;
  }

  /** Every page's box at the current zoom; `viewportWidth` centres narrower pages. */
  compute(viewportWidth) {
    let y = GAP;
    let widest = 0;
    this.tops = this.natural.map(([w, h]) => {
      const top = y;
      y += Math.round(h * this.zoom) + GAP;
      widest = Math.max(widest, Math.round(w * this.zoom));
      return top;
    });
    this.height = y;
    this.width = Math.max(viewportWidth, widest + 2 * GAP);
  }

  box(n) {
    const [w, h] = this.natural[n];
    const width = Math.round(w * this.zoom);
    const height = Math.round(h * this.zoom);
    return { left: Math.round((this.width - width) / 2), top: this.tops[n], width, height };
  }

  /** The page under height `y` (the one that starts at or above it). */
  pageAt(y) {
    let low = 0;
    let high = this.tops.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.tops[mid] <= y) low = mid;
      else high = mid - 1;
    }
    return Math.max(0, low);
  }

  fitWidth(viewportWidth, page) {
    const [w] = this.natural[page] || this.fallback;
    return clampZoom((viewportWidth - 2 * GAP) / w);
  }

  fitPage(viewportWidth, viewportHeight, page) {
    const [w, h] = this.natural[page] || this.fallback;
    return clampZoom(Math.min((viewportWidth - 2 * GAP) / w, (viewportHeight - 2 * GAP) / h));
  }

  /** The Scale to ask for so images stay sharp at this zoom on this screen; null: the default images. */
  scaleFor(devicePixelRatio) {
    const needed = (this.zoom * devicePixelRatio * CSS_DPI) / this.resolution;
    if (needed <= 1.25) return null;
    return SCALES.find((s) => s >= needed) || SCALES[SCALES.length - 1];
  }
}

export function clampZoom(zoom) {
  return Math.min(ZOOM_STEPS[ZOOM_STEPS.length - 1], Math.max(ZOOM_STEPS[0], zoom));
}

export function nextStep(zoom, direction) {
  if (direction > 0) return ZOOM_STEPS.find((z) => z > zoom + 0.001) || ZOOM_STEPS[ZOOM_STEPS.length - 1];
  return [...ZOOM_STEPS].reverse().find((z) => z < zoom - 0.001) || ZOOM_STEPS[0];
}
