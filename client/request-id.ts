// Ids for the client's writes: every retry of a write carries its id, so
// that the store applies it once.

import { orderedId, orderedIdRandomBytes } from "../core/ordered-id";

/**
 * A fresh id for one write. It begins with the time, so that it goes in at
 * the end of the store's dedup index rather than on a random page of it
 * (core/ordered-id.ts).
 */
export function freshRequestId(): string {
  return orderedId(Date.now(), crypto.getRandomValues(new Uint8Array(orderedIdRandomBytes)));
}
