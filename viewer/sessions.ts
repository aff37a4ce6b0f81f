// The sessions panel: the open sessions (SPEC §6), each with its id, its ttl
// and the ephemeral files it owns (unfold one to list them). It polls
// GET /v1/sessions every second, like the cluster panel: a session that ends
// leaves the list at the next poll, and its files' deletions arrive through the
// watch like any delete. Each answer also tells the app who owns which file.

import { pageEntriesMax } from "../core/limits";
import { byId, h } from "./dom";
import { count } from "./format";

const pollMs = 1_000;
const pollTimeoutMs = 4_000;
/** Pages read per poll: beyond them the list says it is cut short. */
const pagesMax = 5;

/** One session as GET /v1/sessions describes it. */
export interface SessionInfo {
  session: string;
  ttl: number;
  /** The paths it owns, in byte order. */
  files: string[];
}

export interface SessionsAnswer {
  /** The store rev the sessions were read at. */
  rev: number;
  sessions: SessionInfo[];
  /** False when there were more sessions than this poll reads. */
  complete: boolean;
}

export interface SessionsHandlers {
  polled(answer: SessionsAnswer): void;
  failed(error: unknown): void;
  unauthorized(): void;
  /** The user chose a file of a session: show it in the tree. */
  reveal(path: string): void;
}

/** The first characters of a session id: enough to tell sessions apart on screen. */
export function shortSession(id: string): string {
  return id.length > 8 ? id.slice(0, 6) : id;
}

/** The mark of an ephemeral file: the short id of the session that owns it, the full id on hover. */
export function leaseBadge(session: string): HTMLElement {
  return h(
    "span",
    { class: "lease", title: `ephemeral: deleted when session ${session} ends` },
    h("span", { class: "lease-icon", attrs: { "aria-hidden": "true" } }),
    h("span", { class: "visually-hidden", text: "ephemeral, session " }),
    shortSession(session),
  );
}

/** 15 s, 1.5 s, 2 min, 1 h: a ttl in ms, in words that fit a badge. */
export function ttlText(ms: number): string {
  if (ms < 60_000) return `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 3_600_000).toFixed(1)} h`;
}

export class SessionsPanel {
  private readonly list = byId<HTMLUListElement>("sessions");
  private readonly meta = byId("sessions-meta");
  private readonly empty = byId("sessions-empty");
  private readonly drawn = new Map<string, HTMLElement>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly token: string | undefined,
    private readonly handlers: SessionsHandlers,
  ) {
    this.list.addEventListener("click", (event) => {
      const target = (event.target as HTMLElement).closest<HTMLElement>("button[data-path]");
      if (target?.dataset.path) handlers.reveal(target.dataset.path);
    });
  }

  start(): void {
    this.stopped = false;
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async poll(): Promise<void> {
    const started = performance.now();
    try {
      const answer = await this.read();
      if (answer === "unauthorized") {
        this.handlers.unauthorized();
        return;
      }
      if (answer === "unsupported") {
        // A store without the listing (it is an extension): say so once, and stop asking.
        this.stopped = true;
        this.meta.textContent = "not listed by this store";
        this.empty.hidden = false;
        this.empty.textContent = "This store does not list its sessions (GET /v1/sessions).";
        return;
      }
      this.render(answer);
      this.handlers.polled(answer);
    } catch (error) {
      this.list.classList.add("stale");
      this.handlers.failed(error);
    } finally {
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.poll(), Math.max(0, pollMs - (performance.now() - started)));
      }
    }
  }

  /** Every live session (up to pagesMax pages), or why not. */
  private async read(): Promise<SessionsAnswer | "unauthorized" | "unsupported"> {
    const sessions: SessionInfo[] = [];
    let rev = Number.POSITIVE_INFINITY;
    for (let page = 0; page < pagesMax; page++) {
      const url = `/v1/sessions?offset=${page * pageEntriesMax}&limit=${pageEntriesMax}`;
      const response = await fetch(url, {
        headers: this.token ? { Authorization: `Bearer ${this.token}` } : {},
        cache: "no-store",
        signal: AbortSignal.timeout(pollTimeoutMs),
      });
      if (response.status === 401) return "unauthorized";
      if (response.status === 404 || response.status === 405) return "unsupported";
      if (!response.ok) throw new Error(`GET /v1/sessions answered ${response.status}`);
      const body = (await response.json()) as { rev: number; sessions: SessionInfo[] };
      // Pages are read one after another: the earliest rev is the one all of them are at least as new as.
      rev = Math.min(rev, body.rev);
      sessions.push(...body.sessions);
      if (body.sessions.length < pageEntriesMax) return { rev, sessions, complete: true };
    }
    return { rev, sessions, complete: false };
  }

  private render(answer: SessionsAnswer): void {
    this.list.classList.remove("stale");
    const files = answer.sessions.reduce((sum, s) => sum + s.files.length, 0);
    const n = answer.sessions.length;
    this.meta.textContent =
      n === 0
        ? "none open"
        : `${count(n)}${answer.complete ? "" : "+"} open · ${count(files)} ephemeral file${files === 1 ? "" : "s"}`;
    this.empty.hidden = n > 0;
    const live = new Set<string>();
    for (const info of answer.sessions) {
      live.add(info.session);
      this.item(info);
    }
    for (const [id, element] of this.drawn) {
      if (live.has(id)) continue;
      element.remove();
      this.drawn.delete(id);
    }
  }

  /** One session: a row that unfolds to its files. Redrawn only when what it shows changed. */
  private item(info: SessionInfo): void {
    let element = this.drawn.get(info.session);
    if (!element) {
      element = h(
        "li",
        { class: "session", attrs: { "data-session": info.session } },
        h("details", {}, h("summary"), h("ul", { class: "session-files" })),
      );
      this.drawn.set(info.session, element);
      this.list.append(element);
    }
    const signature = `${info.ttl}\n${info.files.join("\n")}`;
    if (element.dataset.signature === signature) return;
    element.dataset.signature = signature;
    const files = info.files.length;
    const summary = element.querySelector("summary") as HTMLElement;
    summary.replaceChildren(
      h("span", { class: "lease-icon", attrs: { "aria-hidden": "true" } }),
      h("span", { class: "id", text: shortSession(info.session), title: `session ${info.session}` }),
      h("span", { class: "ttl", text: `ttl ${ttlText(info.ttl)}`, title: `ttl ${count(info.ttl)} ms` }),
      h("span", { class: "count", text: `${count(files)} file${files === 1 ? "" : "s"}` }),
    );
    summary.setAttribute(
      "aria-label",
      `session ${info.session}, ttl ${ttlText(info.ttl)}, ${files} file${files === 1 ? "" : "s"}`,
    );
    const list = element.querySelector(".session-files") as HTMLElement;
    list.replaceChildren(
      h("li", { class: "full-id" }, "id ", h("code", { text: info.session })),
      ...(files === 0
        ? [h("li", { class: "none", text: "owns no file" })]
        : info.files.map((path) =>
            h(
              "li",
              {},
              h(
                "button",
                { title: `${path}: show in the tree`, attrs: { type: "button", "data-path": path } },
                h("bdi", { text: path }),
              ),
            ),
          )),
    );
  }
}
