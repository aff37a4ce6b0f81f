// How many queued commands ride in the next slot: as many as fit both
// limits, and always at least one, so a command as large as the byte limit
// still makes progress.

export function batchLength(
  queue: readonly { bytes: number }[],
  commandsMax: number,
  bytesMax: number,
): number {
  let bytes = 0;
  let count = 0;
  for (const { bytes: size } of queue) {
    if (count >= commandsMax) break;
    if (count > 0 && bytes + size > bytesMax) break;
    bytes += size;
    count++;
  }
  return count;
}
