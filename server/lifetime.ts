/**
 * What keeps a request's background work alive after its answer: a Worker's
 * ExecutionContext or a Durable Object's state both fit.
 */
export interface Lifetime {
  waitUntil(promise: Promise<unknown>): void;
}
