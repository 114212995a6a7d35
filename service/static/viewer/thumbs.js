// The thumbnails sidebar: one button per page; images only for thumbnails in (or near) view, a few
// requests at a time, released when far, so a long document costs what is on screen.

const BOX = [120, 160]; // CSS pixels a thumbnail fits into
const MAX_LOADING = 2;
const KEEP = 40; // thumbnails kept around the ones in view

export class Thumbs {
  constructor({ sidebar, list, api, onSelect }) {
    Object.assign(this, { sidebar, list, api, onSelect });
    this.items = [];
    this.visible = new Set();
    this.loading = 0;
    this.started = false;
    this.current = -1;
    const ratio = Math.min(2, window.devicePixelRatio || 1);
    this.box = BOX.map((v) => Math.round(v * ratio));
    this.observer = new IntersectionObserver((entries) => this.seen(entries), {
      root: sidebar,
      rootMargin: "200px 0px",
    });
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-thumb]");
      if (button) this.onSelect(Number(button.dataset.thumb));
    });
  }

  /** One thumbnail per page, sized like its page (`natural`: [w, h] per page). */
  setPages(natural) {
    while (this.items.length > natural.length) {
      const item = this.items.pop();
      this.observer.unobserve(item.button);
      this.visible.delete(this.items.length);
      item.li.remove();
    }
    const fragment = document.createDocumentFragment();
    for (let n = this.items.length; n < natural.length; n++) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "pm-thumb";
      button.dataset.thumb = String(n);
      button.setAttribute("aria-label", `Page ${n + 1}`);
      const frame = document.createElement("span");
      frame.className = "pm-thumb-frame";
      const label = document.createElement("span");
      label.className = "pm-thumb-number";
      label.textContent = String(n + 1);
      label.setAttribute("aria-hidden", "true");
      button.append(frame, label);
      li.append(button);
      fragment.append(li);
      this.items.push({ li, button, frame, image: null, state: "empty" });
      this.observer.observe(button);
    }
    this.list.append(fragment);
    natural.forEach(([w, h], n) => {
      const fit = Math.min(BOX[0] / w, BOX[1] / h);
      this.items[n].frame.style.width = `${Math.round(w * fit)}px`;
      this.items[n].frame.style.height = `${Math.round(h * fit)}px`;
    });
  }

  /** Start loading images (after the first page has painted, so thumbnails never delay it). */
  start() {
    this.started = true;
    this.pump();
  }

  seen(entries) {
    for (const entry of entries) {
      const n = Number(entry.target.dataset.thumb);
      if (entry.isIntersecting) this.visible.add(n);
      else this.visible.delete(n);
    }
    this.pump();
  }

  pump() {
    if (!this.started || this.sidebar.hidden || this.sidebar.offsetParent === null) return;
    const shown = [...this.visible].sort((a, b) => a - b);
    if (shown.length) {
      const low = shown[0] - KEEP;
      const high = shown[shown.length - 1] + KEEP;
      this.items.forEach((item, n) => {
        if ((n < low || n > high) && item.state !== "empty") this.drop(item);
      });
    }
    for (const n of shown) {
      if (this.loading >= MAX_LOADING) break;
      const item = this.items[n];
      if (item && item.state === "empty") this.load(item);
    }
  }

  load(item) {
    const n = Number(item.button.dataset.thumb);
    const image = new Image();
    image.alt = "";
    image.className = "pm-thumb-image";
    item.image = image;
    item.state = "loading";
    this.loading++;
    const done = (state) => {
      if (item.image !== image) return;
      this.loading--;
      item.state = state;
      if (state === "loaded") item.frame.append(image);
      this.pump();
    };
    image.onload = () => done("loaded");
    image.onerror = () => done("failed");
    image.src = this.api.thumbnailUrl(n, this.box[0], this.box[1]);
  }

  drop(item) {
    if (item.state === "loading") this.loading--;
    if (item.image) {
      item.image.onload = item.image.onerror = null;
      item.image.removeAttribute("src");
      item.image.remove();
    }
    item.image = null;
    item.state = "empty";
  }

  /** Mark page n as the current one and keep its thumbnail in view. */
  setCurrent(n) {
    if (n === this.current) return;
    this.items[this.current]?.button.removeAttribute("aria-current");
    this.current = n;
    const item = this.items[n];
    if (!item) return;
    item.button.setAttribute("aria-current", "page");
    if (!this.sidebar.hidden && !this.visible.has(n)) item.li.scrollIntoView({ block: "nearest" });
  }

  loadedCount() {
    return this.items.filter((item) => item.state === "loaded").length;
  }
}
