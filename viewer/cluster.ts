// The cluster panel: one card per acceptor (its region, whether it answers,
// its promised ballot, highest accepted and chosen slot, and how far it lags
// behind the most advanced acceptor), a map placing them, and a summary of
// whether a majority is there to decide writes. It polls GET /v1/cluster every
// second, so an acceptor taken down turns red within about that long.

import type { ClusterMember } from "../client/index";
import { byId, h } from "./dom";
import { count } from "./format";
import { regions, WorldMap } from "./world-map";

const pollMs = 1_000;
/** A poll that takes longer than this counts as a failure (the Worker bounds each acceptor's answer by 1 s). */
const pollTimeoutMs = 4_000;

/** One acceptor as GET /v1/cluster describes it. */
export type AcceptorStatus = ClusterMember;

export interface ClusterHandlers {
  polled(acceptors: AcceptorStatus[]): void;
  /** The poll failed: no network, the Worker unreachable, or a timeout. */
  failed(error: unknown): void;
  /** The token was refused (401). */
  unauthorized(): void;
}

export class ClusterPanel {
  private readonly cards = byId("cluster-cards");
  private readonly summary = byId("cluster-summary");
  private readonly map = new WorldMap();
  private readonly drawn = new Map<string, HTMLElement>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private lastSuccess = 0;

  constructor(
    private readonly token: string | undefined,
    private readonly handlers: ClusterHandlers,
  ) {
    byId("world-map").append(this.map.element);
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
      const response = await fetch("/v1/cluster", {
        headers: this.token ? { Authorization: `Bearer ${this.token}` } : {},
        cache: "no-store",
        signal: AbortSignal.timeout(pollTimeoutMs),
      });
      if (response.status === 401) {
        this.handlers.unauthorized();
        return;
      }
      if (!response.ok) throw new Error(`GET /v1/cluster answered ${response.status}`);
      const { acceptors } = (await response.json()) as { acceptors: AcceptorStatus[] };
      this.lastSuccess = Date.now();
      this.render(acceptors);
      this.handlers.polled(acceptors);
    } catch (error) {
      this.stale();
      this.handlers.failed(error);
    } finally {
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.poll(), Math.max(0, pollMs - (performance.now() - started)));
      }
    }
  }

  private render(acceptors: AcceptorStatus[]): void {
    this.cards.classList.remove("stale");
    const reachable = acceptors.filter((a) => a.reachable);
    const majority = Math.floor(acceptors.length / 2) + 1;
    const head = Math.max(0, ...reachable.map((a) => a.chosen ?? 0));
    const quorum = reachable.length >= majority;
    this.summary.className = `summary ${quorum ? (reachable.length === acceptors.length ? "ok" : "degraded") : "lost"}`;
    this.summary.textContent =
      `${reachable.length} of ${acceptors.length} reachable · ` +
      (quorum
        ? `a write needs ${majority}: writes go on`
        : `fewer than ${majority}: writes cannot be decided`);
    for (const acceptor of acceptors) this.card(acceptor, head);
    this.map.update(acceptors);
  }

  private card(acceptor: AcceptorStatus, head: number): void {
    let card = this.drawn.get(acceptor.id);
    if (!card) {
      card = h("article", { attrs: { "data-acceptor": acceptor.id } });
      this.drawn.set(acceptor.id, card);
      this.cards.append(card);
    }
    const region = regions[acceptor.location];
    const up = acceptor.reachable;
    const lag = up && acceptor.chosen !== null ? head - acceptor.chosen : undefined;
    card.className = `card ${up ? "up" : "down"}`;
    card.dataset.reachable = String(up);
    card.setAttribute(
      "aria-label",
      `${acceptor.id}, ${region?.name ?? acceptor.location}, ${up ? "reachable" : "unreachable"}`,
    );
    const [round, proposer] = (acceptor.promised ?? "").split(".");
    card.replaceChildren(
      h(
        "header",
        {},
        h("span", { class: "status-dot", attrs: { "aria-hidden": "true" } }),
        h("h3", { text: acceptor.id }),
        h("p", {
          class: "state",
          text: up ? (region?.name ?? "reachable") : "unreachable",
          title: up ? "reachable" : "no answer within the Worker's RPC timeout",
        }),
        h("span", { class: "chip", text: acceptor.location || "?", title: region?.name ?? "unknown region" }),
      ),
      h(
        "dl",
        {},
        stat("promised", acceptor.promised ? `${round} · ${proposer?.slice(0, 4)}` : "—", acceptor.promised),
        stat("accepted", acceptor.accepted === null ? "—" : count(acceptor.accepted)),
        stat("chosen", acceptor.chosen === null ? "—" : count(acceptor.chosen)),
        stat("lag", lag === undefined ? "—" : lag === 0 ? "in step" : `${count(lag)} behind`),
      ),
    );
  }

  /** The last poll failed: the cards may be out of date, and say so. */
  private stale(): void {
    this.cards.classList.add("stale");
    if (this.lastSuccess) {
      const seconds = Math.round((Date.now() - this.lastSuccess) / 1000);
      this.summary.className = "summary stale";
      this.summary.textContent = `No answer from the cluster for ${seconds} s: these cards may be out of date.`;
    }
  }
}

function stat(name: string, value: string, title?: string | null): HTMLElement {
  return h(
    "div",
    { class: `stat ${name}` },
    h("dt", { text: name }),
    h("dd", { text: value, title: title ?? "" }),
  );
}
