// Where a keepalive goes (docs/PROTOCOL.md, "Sessions"): to the acceptor that
// answered the last one, at first the preferred keeper. An acceptor that does
// not hold the role names the one that does, or takes the role itself when
// none does; one that cannot be reached is passed over for the next. Each
// acceptor is asked at most once per keepalive. The Worker's runtime and the
// sessions simulator both route through this.

import type { KeeperRedirect } from "./keeper-role";
import type { KeepaliveAnswer } from "./session-keeping";

export class KeeperRoute {
  private believed: string;

  constructor(
    private readonly acceptors: readonly string[],
    preferred: string,
  ) {
    this.believed = preferred;
  }

  /** The answers of the first acceptor that holds the role; undefined when none could (no majority). */
  async keepalive(
    ask: (acceptor: string) => Promise<KeepaliveAnswer[] | KeeperRedirect>,
  ): Promise<KeepaliveAnswer[] | undefined> {
    const asked = new Set<string>();
    const order = [this.believed, ...this.acceptors.filter((n) => n !== this.believed)];
    let next: string | undefined = this.believed;
    while (next !== undefined) {
      const name: string = next;
      asked.add(name);
      let reply: KeepaliveAnswer[] | KeeperRedirect;
      try {
        reply = await ask(name);
      } catch {
        reply = { notKeeper: `${name} did not answer` };
      }
      if (Array.isArray(reply)) {
        this.believed = name;
        return reply;
      }
      const hint = reply.keeper;
      next = hint !== undefined && !asked.has(hint) ? hint : order.find((n) => !asked.has(n));
    }
    return undefined;
  }
}
