// What the user is told: a status line (polite live region) and, when the document cannot be shown,
// one clear message in place of the pages (an alert).

const STATES = {
  password: [
    "This document is password-protected",
    "It cannot be shown without its password. The application that opened it must provide the password.",
  ],
  expired: [
    "This viewing session has expired",
    "Open the document again from the application that showed it to you.",
  ],
  auth: [
    "This viewer needs an API key",
    "The server requires an API key for viewer requests; open the document through the application.",
  ],
  unreadable: ["This document cannot be displayed", ""],
  nosession: ["No document to show", "The viewer's address names no viewing session (…/viewer?session=ID)."],
};

export class Status {
  constructor(root) {
    this.root = root;
    this.line = root.querySelector("#pm-status");
    this.overlay = root.querySelector("#pm-overlay");
    this.failed = null;
    this.timer = 0;
  }

  /** A short message in the status line; `sticky` ones stay until replaced. */
  say(text, { sticky = false } = {}) {
    clearTimeout(this.timer);
    this.line.textContent = text;
    this.line.classList.toggle("pm-visible", Boolean(text));
    if (text && !sticky) this.timer = setTimeout(() => this.say(""), 4000);
  }

  /** The server is still converting: a spinner and a word, never an error. */
  slow(on) {
    this.root.classList.toggle("pm-is-slow", on);
    if (on) this.say("Preparing the document…", { sticky: true });
    else if (this.line.textContent === "Preparing the document…") this.say("");
  }

  /** Replace the document by a message; the first failure wins. */
  fail(kind, detail = "") {
    if (this.failed) return;
    this.failed = kind;
    const [title, text] = STATES[kind] || STATES.unreadable;
    this.slow(false);
    this.root.classList.add("pm-has-failed");
    this.root.dataset.error = kind;
    this.overlay.querySelector("#pm-overlay-title").textContent = title;
    this.overlay.querySelector("#pm-overlay-text").textContent = detail || text;
    this.overlay.hidden = false;
    this.root.querySelector("#pm-pages").setAttribute("aria-busy", "false");
  }
}
