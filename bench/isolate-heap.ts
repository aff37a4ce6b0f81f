// The V8 heap of the isolate that runs the Worker and its Durable Objects. The
// process's resident memory also counts workerd's own allocations, which grow
// with the requests served in the proxy workerd too, where none of this code
// runs; the heap is what this code holds.

import type { Watched } from "./cpu";
import { connectInspector } from "./inspector";

export interface IsolateHeap {
  /** Live objects after a full garbage collection. */
  usedMb: number;
  /** What V8 has reserved for the heap. */
  totalMb: number;
}

/** The heap of the Worker of a `wrangler dev` (see connectInspector); undefined if no inspector has it. */
export async function isolateHeap(
  processes: Watched[],
  poke: () => Promise<unknown>,
): Promise<IsolateHeap | undefined> {
  const inspector = await connectInspector(processes, poke);
  if (!inspector) return undefined;
  try {
    await inspector.call("HeapProfiler.enable");
    await inspector.call("HeapProfiler.collectGarbage");
    const usage = await inspector.call<{ usedSize: number; totalSize: number }>("Runtime.getHeapUsage");
    const mb = (bytes: number) => Math.round(bytes / 104_857.6) / 10;
    return { usedMb: mb(usage.usedSize), totalMb: mb(usage.totalSize) };
  } finally {
    inspector.close();
  }
}
