// The kernel's table of TCP sockets (/proc/net/tcp, and tcp6 when asked), as
// rows: for finding the ports a process listens on (wrangler-dev.ts) and the
// connections that hold bytes nobody has read (fairness.ts).

import { readFileSync } from "node:fs";

export interface TcpSocket {
  localPort: number;
  /** The kernel's state code: "01" established, "0A" listening. */
  state: string;
  /** Bytes received and not yet read by the process. */
  rxQueue: number;
  inode: string;
}

export function tcpSockets(files: readonly string[] = ["/proc/net/tcp"]): TcpSocket[] {
  const sockets: TcpSocket[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // No IPv6, say.
    }
    for (const line of text.split("\n").slice(1)) {
      // Fields: sl, local_address (HEXIP:HEXPORT), rem_address, st, tx_queue:rx_queue, …, inode (the 10th).
      const [, local, , state, queues, , , , , inode] = line.trim().split(/\s+/);
      if (!local || !state || !inode) continue;
      sockets.push({
        localPort: Number.parseInt(local.split(":")[1] ?? "0", 16),
        state,
        rxQueue: Number.parseInt(queues?.split(":")[1] ?? "0", 16),
        inode,
      });
    }
  }
  return sockets;
}
