// The history bar: the store rev, a slider over the revs the store still
// keeps (its history window), a box to type a rev, and a Live button. It only
// says which rev the user wants; the app reads the tree at that rev.

import { historyRevsDefault } from "../core/limits";
import { byId } from "./dom";
import { count } from "./format";

/** Slider moves settle for this long before the tree is read at the new rev. */
const settleMs = 200;

export interface TimeSliderHandlers {
  pick(rev: number): void;
  live(): void;
}

export class TimeSlider {
  private readonly slider = byId<HTMLInputElement>("rev-slider");
  private readonly input = byId<HTMLInputElement>("rev-input");
  private readonly liveButton = byId<HTMLButtonElement>("live-button");
  private readonly edge = byId("history-edge");
  private readonly now = byId("history-now");
  private readonly caption = byId("history-caption");
  private storeRev = 0;
  /** Revs the store keeps: the default until a TOO_LATE tells the real edge. */
  private windowRevs = historyRevsDefault;
  /** The rev shown, or undefined when live. */
  private shown: number | undefined;
  private settle: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly handlers: TimeSliderHandlers) {
    this.slider.addEventListener("input", () => {
      const rev = Number(this.slider.value);
      this.describe(rev, "moving");
      clearTimeout(this.settle);
      this.settle = setTimeout(() => this.choose(rev), settleMs);
    });
    this.slider.addEventListener("keydown", (event) => {
      if (event.key === "Escape") handlers.live();
    });
    // Enter, not "change": leaving the box should not move the view.
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") handlers.live();
      if (event.key !== "Enter") return;
      const rev = Math.trunc(Number(this.input.value));
      if (Number.isFinite(rev) && this.input.value !== "") this.choose(rev);
    });
    this.liveButton.addEventListener("click", () => handlers.live());
  }

  /** The oldest rev the store should still be able to read. */
  get oldest(): number {
    return Math.max(0, this.storeRev - this.windowRevs);
  }

  setStoreRev(rev: number): void {
    if (rev <= this.storeRev) return;
    this.storeRev = rev;
    this.slider.max = String(rev);
    this.slider.min = String(this.oldest);
    this.input.max = String(rev);
    this.now.textContent = `rev ${count(rev)}`;
    this.edge.textContent = `rev ${count(this.oldest)}`;
    this.edge.title = `The store keeps the last ${count(this.windowRevs)} revs; older ones cannot be read.`;
    if (this.shown === undefined) {
      this.slider.value = String(rev);
      this.input.placeholder = String(rev);
    }
  }

  /** A TOO_LATE said where history starts: the slider's left edge follows. */
  learnOldest(oldest: number): void {
    this.windowRevs = Math.max(0, this.storeRev - oldest);
    this.slider.min = String(oldest);
    this.edge.textContent = `rev ${count(oldest)}`;
  }

  showLive(): void {
    this.shown = undefined;
    this.slider.value = String(this.storeRev);
    this.input.value = "";
    this.input.placeholder = String(this.storeRev);
    this.liveButton.setAttribute("aria-pressed", "true");
    this.caption.className = "caption";
    this.caption.textContent = "Live: the tree follows every change as it is decided.";
  }

  showPast(rev: number, state: "loading" | "shown" | "too-late"): void {
    this.shown = rev;
    this.slider.value = String(rev);
    this.input.value = String(rev);
    this.liveButton.setAttribute("aria-pressed", "false");
    this.describe(rev, state);
  }

  private choose(rev: number): void {
    if (rev >= this.storeRev) this.handlers.live();
    else this.handlers.pick(Math.max(0, rev));
  }

  private describe(rev: number, state: "moving" | "loading" | "shown" | "too-late"): void {
    const ago = this.storeRev - rev;
    const when = ago <= 0 ? "now" : `${count(ago)} rev${ago === 1 ? "" : "s"} ago`;
    this.caption.className = `caption ${state === "too-late" ? "warning" : "past"}`;
    if (state === "too-late") {
      this.caption.textContent = `Rev ${count(rev)} has left the history window, which now starts at rev ${count(this.oldest)}.`;
    } else if (state === "shown") {
      this.caption.textContent = `Showing the store as it was at rev ${count(rev)} (${when}). Edits are off until you go live.`;
    } else {
      this.caption.textContent = `Rev ${count(rev)} (${when})${state === "loading" ? ": reading…" : ""}`;
    }
  }
}
