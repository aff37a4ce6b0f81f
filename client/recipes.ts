// What users build on Doozer, done with compare-and-set and sessions so that
// it is right under contention and against holders that die: locks, leader
// election, and a config value that follows its changes.
//
// A lock is a file created with rev 0 under a session: the create succeeds for
// one client only, the file goes away when its holder's session ends (the
// holder crashed, or was cut off for longer than the ttl), and its rev is a
// fencing token. A holder can lose the lock without knowing it at once (a
// pause, a partition): the token lets the resource the lock guards refuse a
// stale holder. The resource remembers the highest token it has seen and
// rejects requests that carry a lower one; every new holder's token is higher
// than every earlier one's, since revs only grow.

import type { Client } from "./client";
import { ConnectionError, NoEntError, RevMismatchError, TooLateError } from "./errors";
import type { Session } from "./session";
import type { Value } from "./value";

export interface Lock {
  path: string;
  /**
   * The fencing token: the lock file's rev. Send it with every request to the resource the
   * lock guards, which rejects a token lower than the highest it has seen.
   */
  token: number;
  /** The session the lock file belongs to. */
  session: Session;
  /**
   * Aborts when the lock is no longer held: released, its session lost, or its file deleted or
   * overwritten by someone else (the reason says which).
   */
  signal: AbortSignal;
  /** Gives the lock up (deletes the file if it is still this holder's). */
  release(): Promise<void>;
}

/**
 * Takes the lock at `path` under `session`, waiting while another holder has it.
 * The file's value is `owner` (default: the session id). Resolves when held;
 * rejects with the session's loss, or `signal`'s reason, if either comes first.
 */
export async function lock(
  session: Session,
  path: string,
  options: { owner?: string; signal?: AbortSignal } = {},
): Promise<Lock> {
  const { client } = session;
  const owner = options.owner ?? session.id;
  const stop = options.signal ? AbortSignal.any([session.signal, options.signal]) : session.signal;
  for (;;) {
    stop.throwIfAborted();
    try {
      const token = await client.set(path, 0, owner, { session });
      return holding(session, path, token);
    } catch (error) {
      if (!(error instanceof RevMismatchError)) throw error;
      // Held by another: wait for its file to go, from just after the rev this attempt saw it at.
      await untilDeleted(client, path, error.storeRev, stop);
    }
  }
}

export interface Leadership {
  path: string;
  /** This leader's name, the leadership file's value. */
  id: string;
  /** The leadership's fencing token: the file's rev (see Lock). */
  token: number;
  session: Session;
  /**
   * Aborts the moment the leadership ends: resigned, its session lost, or its file deleted or
   * overwritten. A leader stops acting as one when it aborts.
   */
  signal: AbortSignal;
  /** Gives up leadership (deletes the file if it still holds it). */
  resign(): Promise<void>;
}

/**
 * Campaigns to lead at `path` under the name `id` within `session`; resolves once
 * this client is the leader. Everyone can read the current leader with
 * `client.get(path)` and follow it with `client.watch(path)`.
 */
export async function electLeader(
  session: Session,
  path: string,
  id: string,
  options: { signal?: AbortSignal } = {},
): Promise<Leadership> {
  const held = await lock(session, path, { owner: id, signal: options.signal });
  return { path, id, token: held.token, session, signal: held.signal, resign: held.release };
}

/** A held lock: its signal aborts when the session is over or the file is no longer the one written. */
function holding(session: Session, path: string, token: number): Lock {
  const { client } = session;
  const controller = new AbortController();
  let released = false;
  const end = (reason: unknown) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const onSessionOver = () => end(session.signal.reason);
  session.signal.addEventListener("abort", onSessionOver, { once: true });
  controller.signal.addEventListener(
    "abort",
    () => session.signal.removeEventListener("abort", onSessionOver),
    { once: true },
  );
  if (session.signal.aborted) onSessionOver();
  void followFile(client, path, token, controller.signal).then(end, end);
  return {
    path,
    token,
    session,
    signal: controller.signal,
    release: async () => {
      if (released) return;
      released = true;
      end(new Error(`the lock ${path} was released`));
      try {
        await client.del(path, token);
      } catch (error) {
        // Someone else's file by now: nothing of ours to delete.
        if (!(error instanceof RevMismatchError)) throw error;
      }
    },
  };
}

/**
 * Resolves with the reason the file at `path` stopped being the one written at
 * `rev` (deleted or overwritten), or never, until `signal` aborts.
 */
async function followFile(client: Client, path: string, rev: number, signal: AbortSignal): Promise<Error> {
  let from = rev + 1;
  for (;;) {
    const watch = client.watch(path, { from });
    const cancel = () => watch.cancel();
    signal.addEventListener("abort", cancel, { once: true });
    try {
      for await (const event of watch) {
        return new RevMismatchError(
          `${path} was ${event.op === "del" ? "deleted" : "overwritten"} at rev ${event.rev}`,
          { path, rev: event.op === "del" ? 0 : event.rev },
        );
      }
      return new ConnectionError(`the watch on ${path} ended`); // Cancelled: the abort has its reason already.
    } catch (error) {
      if (!(error instanceof TooLateError)) return error as Error;
      // Quiet for longer than the history window: look at the file itself, then watch from there.
      const now = await client.stat(path);
      if (now.rev !== rev) {
        return new RevMismatchError(`${path} changed while its watch was behind`, { path, rev: now.rev });
      }
      from = now.storeRev + 1;
    } finally {
      signal.removeEventListener("abort", cancel);
      watch.cancel();
    }
  }
}

/** Returns once the file at `path`, which existed at `seenAtRev`, is deleted. */
async function untilDeleted(
  client: Client,
  path: string,
  seenAtRev: number | undefined,
  signal: AbortSignal,
): Promise<void> {
  let from: number;
  if (seenAtRev === undefined) {
    const now = await client.stat(path);
    if (now.rev === 0) return;
    from = now.storeRev + 1;
  } else {
    from = seenAtRev + 1;
  }
  const watch = client.watch(path, { from });
  const cancel = () => watch.cancel();
  signal.addEventListener("abort", cancel, { once: true });
  try {
    for await (const event of watch) if (event.op === "del") return;
  } catch (error) {
    // Too far behind to know what happened: the next create attempt will tell.
    if (error instanceof TooLateError) return;
    throw error;
  } finally {
    signal.removeEventListener("abort", cancel);
    watch.cancel();
  }
  signal.throwIfAborted();
  throw new ConnectionError(`the watch on ${path} ended`);
}

export interface Config {
  /** The value now, or undefined if the file does not exist. */
  value: Value | undefined;
  rev: number;
  /** Every later value (undefined when the file is deleted), in order, none missed. */
  changes: AsyncIterable<Value | undefined>;
  close(): void;
}

/** A config file's value, and a stream of its changes that starts exactly where the value was read. */
export async function config(client: Client, path: string): Promise<Config> {
  let value: Value | undefined;
  let rev = 0;
  let storeRev: number;
  try {
    const file = await client.get(path);
    value = file.value;
    rev = file.rev;
    storeRev = file.storeRev;
  } catch (error) {
    if (!(error instanceof NoEntError)) throw error;
    storeRev = await client.rev();
  }
  const watch = client.watch(path, { from: storeRev + 1 });
  return {
    value,
    rev,
    changes: (async function* () {
      for await (const event of watch) yield event.op === "set" ? event.value : undefined;
    })(),
    close: () => watch.cancel(),
  };
}
