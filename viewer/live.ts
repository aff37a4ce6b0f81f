// The live tree: a WALK of the whole store at one rev, then a watch of every
// change from the rev after it, so that no change falls between the snapshot
// and the stream. The client library resumes the watch after a reconnect at
// its last rev + 1; if it cannot (the gap left the history window: TOO_LATE),
// the feed reads a fresh snapshot and says so, rather than skipping silently.
//
// Also here: reading the store as it was at a past rev, for the time slider.

import { type Client, TooLateError, UnauthorizedError, type WatchEvent } from "../client/index";
import { type Owner, TreeModel } from "./tree-model";

/** Changes shown in the event list on opening, from just before the snapshot (they are not applied again). */
const recentRevs = 100;
/** Wait before reading a new snapshot after a failure that was not TOO_LATE. */
const retryMs = 2_000;

export interface LiveFeedHandlers {
  /** A snapshot was read: `model` is the live tree at `rev`. `resync`: it replaces one that could not be resumed. */
  reset(model: TreeModel, rev: number, resync: boolean): void;
  /** A change, in rev order. `applied`: it changed the live model (false for the recent history read on opening). */
  event(event: WatchEvent, applied: boolean): void;
  /** The feed failed; it tries again by itself (a new snapshot), unless the token was refused. */
  failed(error: unknown): void;
}

export class LiveFeed {
  private stopped = false;
  private cancel: (() => void) | undefined;

  constructor(
    private readonly client: Client,
    private readonly handlers: LiveFeedHandlers,
  ) {}

  /** Runs until stop(): snapshot, watch, and again after any failure. */
  async run(): Promise<void> {
    let resync = false;
    while (!this.stopped) {
      try {
        await this.follow(resync);
        return;
      } catch (error) {
        if (this.stopped) return;
        this.handlers.failed(error);
        if (error instanceof UnauthorizedError) return;
        if (!(error instanceof TooLateError)) await new Promise((r) => setTimeout(r, retryMs));
        resync = true;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  private async follow(resync: boolean): Promise<void> {
    const rev = await this.client.rev();
    const model = await readTree(this.client, rev);
    if (this.stopped) return;
    this.handlers.reset(model, rev, resync);
    // On opening, start a little before the snapshot so the event list has some history to show.
    const from = resync ? rev + 1 : Math.max(1, rev - recentRevs + 1);
    const watch = this.client.watch("/**", { from });
    this.cancel = () => watch.cancel();
    for await (const event of watch) {
      const applied = event.rev > rev;
      if (applied) {
        if (event.op === "set") model.set(event.path, event.rev, event.value, ownerOf(event));
        else model.delete(event.path);
      }
      this.handlers.event(event, applied);
    }
  }
}

/** The whole tree as it was at `rev` (one snapshot, however many pages). */
export async function readTree(client: Client, rev: number): Promise<TreeModel> {
  const model = new TreeModel();
  for await (const file of client.walk("/**", { rev }))
    model.set(file.path, file.rev, file.value, ownerOf(file));
  return model;
}

/** A file or event as the client library gives it, with the owning session if it carries one (SPEC §6). */
export type MaybeOwned = { session?: unknown };

/** Set once a file or event came with a `session`: from then on, one without it is persistent. */
let sessionsCarried = false;

/**
 * The session that owns a walked file or a set event: its `session`, if the
 * client library passes it on. One that does not (absent everywhere so far)
 * leaves the owner unknown, and the sessions poll supplies it.
 */
export function ownerOf(item: object): Owner {
  const session = (item as MaybeOwned).session;
  if (typeof session === "string" && session !== "") {
    sessionsCarried = true;
    return session;
  }
  return sessionsCarried ? null : undefined;
}

/** The oldest rev the store can still read, from a TOO_LATE's message ("… (oldest rev 1234)"), if it says. */
export function oldestRevOf(error: TooLateError): number | undefined {
  const match = /oldest rev (\d+)|starts at (\d+)/.exec(error.message);
  const found = match?.[1] ?? match?.[2];
  return found === undefined ? undefined : Number(found);
}
