// The viewer's link to the store: the token (asked for when the store wants
// one, kept for this tab only), what the token may do, and whether the store
// answers at all (a banner while it does not).
//
// The client library reconnects and resumes watches by itself; what the page
// adds is telling the user. Offline means: the browser says it has no network,
// or the last poll of /v1/cluster or the live feed failed. Back online is the
// next success.

import { type Client, ReadOnlyError } from "../client/index";
import { byId } from "./dom";

const tokenKey = "doozer-edge.token";

export type Access = "open" | "read-write" | "read-only";

export function savedToken(): string | undefined {
  return sessionStorage.getItem(tokenKey) ?? undefined;
}

/**
 * Opens the token dialog. Using a token (or forgetting it) reloads the page,
 * so that every connection and poll starts again with it.
 */
export function askForToken(message: string): void {
  const dialog = byId<HTMLDialogElement>("token-dialog");
  const input = byId<HTMLInputElement>("token-input");
  byId("token-message").textContent = message;
  byId("token-forget").hidden = savedToken() === undefined;
  input.value = "";
  if (!dialog.open) dialog.showModal();
  input.focus();
}

/** Wires the token dialog's buttons once. */
export function setUpTokenDialog(): void {
  byId<HTMLFormElement>("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = byId<HTMLInputElement>("token-input").value.trim();
    if (!token) return;
    sessionStorage.setItem(tokenKey, token);
    location.reload();
  });
  byId("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(tokenKey);
    location.reload();
  });
  byId("token-cancel").addEventListener("click", () => byId<HTMLDialogElement>("token-dialog").close());
  byId("token-button").addEventListener("click", () =>
    askForToken("A token for DOOZER_RWSECRET (read and write) or DOOZER_ROSECRET (read only)."),
  );
}

/**
 * What a token may do, learnt without changing the store: a DEL of a path
 * that cannot exist. The store checks the token before the path, so a
 * read-only token gets READONLY, and a read-write one BAD_PATH; no write is
 * decided and no rev is consumed either way. Without a token the store is
 * open (DOOZER_RWSECRET unset), since reads already succeeded.
 */
export async function probeAccess(client: Client, token: string | undefined): Promise<Access> {
  if (token === undefined) return "open";
  try {
    await client.del("/%access-probe", -1);
  } catch (error) {
    if (error instanceof ReadOnlyError) return "read-only";
  }
  return "read-write";
}

/** The header pill and the offline banner. */
export class ConnectionStatus {
  private readonly pill = byId("status");
  private readonly banner = byId("banner");
  private readonly failing = new Map<string, string>();
  private connected = false;

  constructor() {
    addEventListener("online", () => this.show());
    addEventListener("offline", () => this.show());
  }

  /** `source` ("cluster", "feed") answered. */
  ok(source: string): void {
    this.connected = true;
    if (this.failing.delete(source) || this.pill.dataset.state !== "live") this.show();
  }

  /** `source` failed; `why` says how, in words. */
  fail(source: string, why: string): void {
    this.failing.set(source, why);
    this.show();
  }

  private show(): void {
    const offline = !navigator.onLine || this.failing.size > 0;
    const state = offline ? "offline" : this.connected ? "live" : "connecting";
    this.pill.dataset.state = state;
    this.pill.textContent = state === "live" ? "connected" : state;
    this.banner.hidden = !offline;
    if (offline) {
      const why = !navigator.onLine ? "this device has no network" : [...this.failing.values()][0];
      this.banner.textContent =
        `Offline: ${why}. What you see may be out of date; the viewer reconnects by itself ` +
        "and catches up on every change it missed.";
    }
  }
}
