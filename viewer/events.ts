// The event stream: every change the watch delivers (rev, op, path, a short
// value), newest first, filtered by a glob typed by the user. Events that come
// in a burst are drawn once per frame, and only the newest few hundred stay in
// the page.

import type { WatchEvent } from "../client/index";
import { compileGlob, type Glob } from "../core/glob";
import { byId, frameScheduler, h } from "./dom";
import { count, preview } from "./format";
import { ownerOf } from "./live";
import { leaseBadge } from "./sessions";

/** Events kept for filtering. */
const keptMax = 2_000;
/** Events drawn at once. */
const drawnMax = 200;

/** `session`: the session a set was made under, when known. */
type Item =
  | { kind: "event"; event: WatchEvent; session: string | undefined }
  | { kind: "note"; text: string };

export interface EventListHandlers {
  /** The user chose a path: show it in the tree. */
  reveal(path: string): void;
  /** The user chose a rev: show the tree as it was then. */
  travel(rev: number): void;
}

export class EventList {
  private readonly list = byId<HTMLOListElement>("events");
  private readonly filter = byId<HTMLInputElement>("event-filter");
  private readonly hint = byId("event-filter-hint");
  private readonly meta = byId("events-meta");
  private readonly empty = byId("events-empty");
  private readonly items: Item[] = [];
  /** The kept set events, by rev, to name their session when it is learnt later. */
  private readonly sets = new Map<number, Item & { kind: "event" }>();
  private pending: Item[] = [];
  private glob: Glob | undefined;
  private total = 0;
  private readonly schedule = frameScheduler(() => this.flush());

  constructor(handlers: EventListHandlers) {
    this.filter.addEventListener("input", () => this.setFilter(this.filter.value.trim()));
    this.list.addEventListener("click", (event) => {
      const target = (event.target as HTMLElement).closest<HTMLElement>("button");
      if (target?.dataset.path) handlers.reveal(target.dataset.path);
      else if (target?.dataset.rev) handlers.travel(Number(target.dataset.rev));
    });
  }

  add(event: WatchEvent): void {
    this.total++;
    const owner = event.op === "set" ? ownerOf(event) : undefined;
    const item = { kind: "event" as const, event, session: owner ?? undefined };
    if (event.op === "set") this.sets.set(event.rev, item);
    this.push(item);
  }

  /**
   * The set at `rev` of `path` was made under `session` (learnt from the
   * sessions poll, when the watch's events do not say): show it on its line.
   */
  markSession(rev: number, path: string, session: string): void {
    const item = this.sets.get(rev);
    if (!item || item.event.path !== path || item.session === session) return;
    item.session = session;
    const line = this.list.querySelector<HTMLElement>(`li.event[data-rev="${rev}"]`);
    if (!line) return;
    line.dataset.session = session;
    line.querySelector(".value .lease")?.remove();
    line.querySelector(".value")?.prepend(leaseBadge(session));
  }

  /** A line between events, e.g. where the feed had to read a fresh snapshot. */
  note(text: string): void {
    this.push({ kind: "note", text });
  }

  private push(item: Item): void {
    this.items.push(item);
    if (this.items.length > keptMax) {
      for (const gone of this.items.splice(0, this.items.length - keptMax)) {
        if (gone.kind === "event") this.sets.delete(gone.event.rev);
      }
    }
    this.pending.push(item);
    // In a background tab frames stop; only the newest drawnMax can ever be drawn.
    if (this.pending.length > 2 * drawnMax) this.pending.splice(0, this.pending.length - drawnMax);
    this.schedule();
  }

  private setFilter(source: string): void {
    this.filter.removeAttribute("aria-invalid");
    this.hint.textContent = "";
    this.glob = undefined;
    if (source) {
      try {
        this.glob = compileGlob(source);
      } catch {
        this.filter.setAttribute("aria-invalid", "true");
        this.hint.textContent = source.startsWith("/")
          ? "Not a glob: names use a–z, 0–9, . and -, with * ? and ** as wildcards."
          : "A glob starts with /, e.g. /app/** or /**/*.json";
      }
    }
    // Draw everything again under the new filter.
    this.pending = [];
    this.list.replaceChildren();
    this.insert(this.items);
  }

  private flush(): void {
    const items = this.pending;
    this.pending = [];
    this.insert(items);
  }

  /** Draws `items` (oldest first) at the top of the list, newest on top. */
  private insert(items: readonly Item[]): void {
    const fragment = document.createDocumentFragment();
    let drawn = 0;
    for (let i = items.length - 1; i >= 0 && drawn < drawnMax; i--) {
      const item = items[i] as Item;
      if (item.kind === "event" && this.glob && !this.glob.matches(item.event.path)) continue;
      fragment.append(this.row(item));
      drawn++;
    }
    this.list.prepend(fragment);
    while (this.list.childElementCount > drawnMax) this.list.lastElementChild?.remove();
    const shown = this.list.querySelectorAll(".event").length;
    this.empty.hidden = shown > 0;
    this.empty.textContent = this.glob
      ? `No recent change matches ${this.glob.source}.`
      : "No changes yet. Every set and delete appears here as it is decided.";
    this.meta.textContent = this.glob
      ? `${count(shown)} shown · filter ${this.glob.source}`
      : `${count(this.total)} seen`;
  }

  private row(item: Item): HTMLElement {
    if (item.kind === "note") return h("li", { class: "note", text: item.text });
    const { event, session } = item;
    const attrs: Record<string, string> = { "data-rev": String(event.rev), "data-path": event.path };
    if (session !== undefined) attrs["data-session"] = session;
    return h(
      "li",
      { class: `event ${event.op}`, attrs },
      h("button", {
        class: "rev",
        text: count(event.rev),
        title: `Show the tree at rev ${event.rev}`,
        attrs: { type: "button", "data-rev": String(event.rev) },
      }),
      h("span", { class: "op", text: event.op }),
      h(
        "button",
        {
          class: "path",
          title: `${event.path}: show in the tree`,
          attrs: { type: "button", "data-path": event.path },
        },
        h("bdi", { text: event.path }),
      ),
      h(
        "span",
        { class: "value" },
        session !== undefined && leaseBadge(session),
        event.op === "del" ? "deleted" : preview(event.value, 48),
      ),
    );
  }
}
