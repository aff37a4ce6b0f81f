// Where an acceptor actually runs (issue: /v1/cluster reports the hint, which
// the platform may not honour). A Durable Object has no API for its own
// location; the platform's trace page, fetched from inside the object, names
// the data centre that served the fetch, which is the one the object runs in.
// Only a deployed Worker may look (DOOZER_PLACEMENT_PROBE = "1" in
// [env.production.vars]): locally and in tests nothing leaves the machine.

const traceUrl = "https://cloudflare.com/cdn-cgi/trace";
const probeTimeoutMs = 3_000;

/** The data centre code (`colo=` of the trace, e.g. "IAD"), or undefined if it cannot be told. */
export async function probeColo(fetcher: typeof fetch = fetch): Promise<string | undefined> {
  try {
    const response = await fetcher(traceUrl, { signal: AbortSignal.timeout(probeTimeoutMs) });
    if (!response.ok) return undefined;
    return parseColo(await response.text());
  } catch {
    return undefined;
  }
}

/** The `colo=` line of a trace page: three to four capital letters, else undefined. */
export function parseColo(trace: string): string | undefined {
  const match = /^colo=([A-Z]{3,4})$/m.exec(trace);
  return match?.[1];
}
