// Structured logs: one JSON object per line on console.log, which Workers Logs
// (`[observability] enabled = true`) and `wrangler tail` index by field. One
// line per HTTP request (`event: "request"`) and one per notable event
// (docs/DEPLOY.md, "Watching it" lists them).

export type LogLevel = "info" | "warn" | "error";

export function logLine(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ level, event, ...fields }));
}

const lastLogged = new Map<string, number>();

/**
 * A notable event, at most one line per `key` every `everyMs` in this isolate:
 * an acceptor that stays down would otherwise log on every request. The line
 * says how many were left out since the last one.
 */
export function logThrottled(
  key: string,
  everyMs: number,
  level: LogLevel,
  event: string,
  fields: Record<string, unknown> = {},
): void {
  const now = Date.now();
  const last = lastLogged.get(key);
  const skipped = skippedCounts.get(key) ?? 0;
  if (last !== undefined && now - last < everyMs) {
    skippedCounts.set(key, skipped + 1);
    return;
  }
  lastLogged.set(key, now);
  skippedCounts.delete(key);
  logLine(level, event, skipped > 0 ? { ...fields, skipped } : fields);
}

const skippedCounts = new Map<string, number>();
