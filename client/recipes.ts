// What users build on Doozer, done with compare-and-set so that it is right
// under contention: locks, leader election, and a config value that follows
// its changes.
//
// Until ephemeral files (tied to a client's liveness) exist, a lock or a
// leadership outlives a holder that crashed: it stays until someone deletes the
// file (`doozer del <path> -1`). Give each holder an id you can recognise.

import type { Client } from "./client";
import { NoEntError, RevMismatchError } from "./errors";
import type { Value } from "./value";

export interface Lock {
  path: string;
  /** The lock file's rev: what `unlock` checks, so it never deletes someone else's lock. */
  rev: number;
  unlock(): Promise<void>;
}

/**
 * Takes the lock at `path`, waiting while another holder has it. The file's
 * value is `owner`. Resolves when this client holds the lock.
 */
export async function lock(
  client: Client,
  path: string,
  options: { owner?: string; signal?: AbortSignal } = {},
): Promise<Lock> {
  const owner = options.owner ?? crypto.randomUUID();
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const rev = await client.set(path, 0, owner);
      return { path, rev, unlock: () => client.del(path, rev).then(() => undefined) };
    } catch (error) {
      if (!(error instanceof RevMismatchError)) throw error;
      // Held: wait for the next change at or after the rev this attempt consumed.
      await waitForDelete(client, path, (error.storeRev ?? 0) + 1, options.signal);
    }
  }
}

export interface Leadership {
  /** Gives up leadership (deletes the file if it still holds it). */
  resign(): Promise<void>;
  /** The leadership file's rev. */
  rev: number;
}

/**
 * Campaigns to lead at `path` under the name `id`; resolves once this client
 * is the leader. Everyone can read the current leader with `client.get(path)`.
 */
export async function electLeader(
  client: Client,
  path: string,
  id: string,
  options: { signal?: AbortSignal } = {},
): Promise<Leadership> {
  const held = await lock(client, path, { owner: id, signal: options.signal });
  return {
    rev: held.rev,
    resign: async () => {
      try {
        await held.unlock();
      } catch (error) {
        // Someone removed or replaced it already: nothing of ours to give up.
        if (!(error instanceof RevMismatchError)) throw error;
      }
    },
  };
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

async function waitForDelete(
  client: Client,
  path: string,
  fromRev: number,
  signal?: AbortSignal,
): Promise<void> {
  let rev = fromRev;
  for (;;) {
    signal?.throwIfAborted();
    const event = await client.wait(path, rev, { timeoutMs: 30_000 });
    if (!event) {
      // Nothing yet; make sure it still exists before waiting again.
      const { rev: fileRev } = await client.stat(path);
      if (fileRev === 0) return;
      continue;
    }
    if (event.op === "del") return;
    rev = event.rev + 1;
  }
}
