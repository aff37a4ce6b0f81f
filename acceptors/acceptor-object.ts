// The acceptor Durable Object: a thin adapter around core/replica.ts. It loads
// the replica from SQLite once, answers the Worker's Paxos and read RPCs, fills
// gaps in its log by asking its peers, and wakes reads that wait for a rev.
// It holds no protocol logic of its own.

import { DurableObject } from "cloudflare:workers";
import { type ClusterConfig, parseClusterConfig } from "../core/cluster-config";
import { DoozerError } from "../core/errors";
import type { Mutation, MutationOutcome } from "../core/mutation";
import type {
  Accept,
  Accepted,
  Commit,
  Committed,
  Fetch,
  Fetched,
  Prepare,
  Promised,
  Rejected,
} from "../core/paxos/messages";
import type { ProposerStats } from "../core/paxos/proposer";
import {
  executeRead,
  type ReadReply,
  type ReadRequest,
  type ReplicaPosition,
  toErrorValue,
  type WaitReply,
  type WaitRequest,
} from "../core/reads";
import { Replica } from "../core/replica";
import type { Env } from "../worker/env";
import { newRuntime, type Runtime } from "../worker/runtime";
import { sleep, withTimeout } from "../worker/timing";
import type { AcceptorRpc, AcceptorStatus, ProposeReply, Unavailable } from "./acceptor-rpc";
import { ClientSockets } from "./client-sockets";
import { type Fault, type FaultSetting, healthy, parseStoredFault } from "./fault";
import { SqliteStorage } from "./sqlite-storage";

/** How long a dropped message keeps its caller waiting: longer than any RPC timeout, so the caller sees a loss. */
const lossDelayMs = 2_000;
/** How often a replica with watchers asks its peers whether it missed a slot. */
const followEveryMs = 1_000;
/** Rounds over all peers that one catch-up may take before it waits for the next trigger. */
const catchUpRounds = 3;

export class AcceptorObject extends DurableObject<Env> implements AcceptorRpc {
  private readonly config: ClusterConfig;
  private storage!: SqliteStorage;
  private replica!: Replica;
  private fault: Fault = healthy;
  /** Callbacks that re-check their condition after the store moves on. */
  private readonly waiters = new Set<() => void>();
  private catchingUp = false;
  private sockets!: ClientSockets;
  /** The store rev through which watchers have been sent their events. */
  private deliveredThrough = 0;
  /** A proposer and reader of this object's own, for requests that come over client sockets. */
  private ownRuntime: Runtime | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = parseClusterConfig(env);
    ctx.blockConcurrencyWhile(async () => {
      this.storage = new SqliteStorage(ctx.storage);
      this.replica = new Replica(this.storage, { historyRevs: this.config.historyRevs });
      this.fault = this.config.faultsEnabled ? parseStoredFault(this.storage.getMeta("fault")) : healthy;
      this.deliveredThrough = this.replica.store.rev;
      this.sockets = new ClientSockets({
        ctx,
        env,
        store: () => this.replica.store,
        runtime: () => this.runtime(),
        fault: () => this.fault,
        reachSlot: (slot, waitMs) => this.reachSlot(slot, waitMs),
        watchStarted: () => void this.followSoon(),
      });
      this.sockets.restore();
      if (this.sockets.watching) await this.followSoon();
    });
  }

  // ---- Client WebSockets (the Worker forwards /v1/ws here) ----

  override async fetch(request: Request): Promise<Response> {
    if (this.fault.mode === "down") return new Response("acceptor down (fault switch)", { status: 503 });
    return this.sockets.accept(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (this.fault.mode === "down") return ws.close(1012, "acceptor down (fault switch)");
    if (this.fault.mode === "lossy" && Math.random() < this.fault.dropRate) {
      // A lossy link under a socket shows as a broken connection, not as a missing frame.
      this.sockets.closed(ws);
      return ws.close(1011, "connection lost (fault switch)");
    }
    await this.sockets.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.sockets.closed(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // Already closed.
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.sockets.closed(ws);
  }

  private get name(): string {
    return this.ctx.id.name ?? this.ctx.id.toString();
  }

  // ---- Paxos ----

  async prepare(message: Prepare): Promise<Promised | Rejected | Unavailable> {
    return this.guard(() => this.replica.prepare(message));
  }

  async accept(message: Accept): Promise<Accepted | Rejected | Unavailable> {
    return this.guard(() => this.replica.accept(message));
  }

  async commit(message: Commit): Promise<Committed<MutationOutcome> | Unavailable> {
    return this.guard(() => {
      const reply = this.replica.commit(message);
      this.afterLearning();
      return reply;
    });
  }

  /** A peer catching up asks for chosen entries. */
  async fetchChosen(message: Fetch): Promise<Fetched | Unavailable> {
    return this.guard(() => this.replica.fetch(message));
  }

  async status(): Promise<AcceptorStatus | Unavailable> {
    return this.guard(() => ({
      name: this.name,
      storageWrites: this.storage.writes,
      ...this.replica.status(),
    }));
  }

  // ---- Writes proposed here (the "leader" route) ----

  async propose(mutation: Mutation): Promise<ProposeReply | Unavailable> {
    return this.guard(async () => {
      try {
        return { outcome: await this.runtime().proposer.write(mutation, this.ctx) };
      } catch (error) {
        return { error: toErrorValue(error) };
      }
    });
  }

  async proposerStats(): Promise<ProposerStats> {
    return this.runtime().proposer.stats;
  }

  // ---- Reads ----

  async read(request: ReadRequest): Promise<ReadReply | Unavailable> {
    return this.guard(async () => {
      if (!(await this.reachSlot(request.minSlot, request.catchUpMs))) return this.behind();
      const deadline = Date.now() + request.timeoutMs;
      const store = this.replica.store;
      try {
        const atRev = request.rev ?? store.rev;
        if (atRev > store.rev && !(await this.until(() => store.rev >= atRev, deadline))) {
          throw new DoozerError(
            "TIMEOUT",
            `rev ${atRev} was not reached in ${request.timeoutMs} ms (store rev ${store.rev})`,
          );
        }
        return {
          ok: true,
          result: executeRead(store, request.query, atRev),
          readAt: atRev,
          ...this.position(),
        };
      } catch (error) {
        return { ok: false, error: toErrorValue(error), ...this.position() };
      }
    });
  }

  /** WAIT: the first change at or after `rev` to a file matching `glob`, or `event: undefined` on timeout. */
  async wait(request: WaitRequest): Promise<WaitReply | Unavailable> {
    return this.guard(async () => {
      if (!(await this.reachSlot(request.minSlot, request.catchUpMs))) return this.behind();
      const deadline = Date.now() + request.timeoutMs;
      const store = this.replica.store;
      try {
        let event = store.firstEvent(request.glob, request.rev);
        if (!event) {
          await this.until(() => {
            event = store.firstEvent(request.glob, request.rev);
            return event !== undefined;
          }, deadline);
        }
        return { ok: true, event, ...this.position() };
      } catch (error) {
        return { ok: false, error: toErrorValue(error), ...this.position() };
      }
    });
  }

  // ---- The fault switch (local and test runs only) ----

  async getFault(): Promise<Fault> {
    return this.fault;
  }

  async setFault(setting: FaultSetting): Promise<Fault | Unavailable> {
    if (!this.config.faultsEnabled)
      return { unavailable: "the fault switch is off (DOOZER_FAULTS is not 1)" };
    if (setting.mode === "crash") {
      this.storage.setMeta("fault", JSON.stringify(healthy));
      // Loses everything in memory; the next call builds the replica again from SQLite.
      this.ctx.abort("crash (fault switch)");
      return healthy;
    }
    this.fault = setting;
    this.storage.setMeta("fault", JSON.stringify(setting));
    if (setting.mode === "down") this.sockets.closeAll("acceptor down (fault switch)");
    return setting;
  }

  /**
   * While watches run here, check the peers every second for slots this replica
   * has not learnt: a commit it missed (it was down, or the message was lost)
   * would otherwise hold its watchers' events back until the next write.
   */
  override async alarm(): Promise<void> {
    if (!this.sockets.watching) return;
    if (this.fault.mode !== "down") {
      const peers = this.config.acceptors.map((a) => a.name).filter((n) => n !== this.name);
      const known = await Promise.all(
        peers.map((peer) => {
          const stub = this.env.ACCEPTOR.getByName(peer) as unknown as AcceptorRpc;
          return withTimeout(stub.status(), this.config.rpcTimeoutMs).then(
            (s) => ("unavailable" in s ? 0 : s.chosenThrough),
            () => 0,
          );
        }),
      );
      const ahead = Math.max(0, ...known);
      if (ahead > this.replica.chosenThrough) {
        this.replica.expect(ahead);
        void this.catchUp();
      }
    }
    if (this.sockets.watching) await this.ctx.storage.setAlarm(Date.now() + followEveryMs);
  }

  private async followSoon(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null)
      await this.ctx.storage.setAlarm(Date.now() + followEveryMs);
  }

  // ---- Adapter internals ----

  /** A proposer and reader of this object's own, for socket requests and leader-route writes. */
  private runtime(): Runtime {
    this.ownRuntime ??= newRuntime(this.env, this.name);
    return this.ownRuntime;
  }

  /**
   * Applies the fault switch to one request and its answer, as if the network to
   * this region failed. A refusal is an answer value, not a thrown error, so that
   * a downed acceptor does not fill the log with uncaught errors.
   */
  private async guard<T>(handle: () => T | Promise<T>): Promise<T | Unavailable> {
    const refused = await this.suffer("request");
    if (refused) return refused;
    const result = await handle();
    return (await this.suffer("answer")) ?? result;
  }

  private async suffer(what: "request" | "answer"): Promise<Unavailable | undefined> {
    const fault = this.fault;
    switch (fault.mode) {
      case "ok":
        return undefined;
      case "down":
        return { unavailable: `${this.name} is down (fault switch)` };
      case "slow":
        await sleep(fault.delayMs);
        return undefined;
      case "lossy":
        if (Math.random() >= fault.dropRate) return undefined;
        await sleep(lossDelayMs);
        return { unavailable: `${this.name} dropped the ${what} (fault switch)` };
    }
  }

  private position(): ReplicaPosition {
    return { chosenThrough: this.replica.chosenThrough, storeRev: this.replica.store.rev };
  }

  private behind(): ReadReply & WaitReply {
    return {
      ok: false,
      error: { code: "TIMEOUT", message: `${this.name} has not caught up with the read barrier` },
      ...this.position(),
    };
  }

  /** Waits until the replica has applied `slot`, fetching the gap from peers meanwhile. */
  private async reachSlot(slot: number | undefined, waitMs = 0): Promise<boolean> {
    if (slot === undefined || this.replica.chosenThrough >= slot) return true;
    this.replica.expect(slot);
    void this.catchUp();
    return this.until(() => this.replica.chosenThrough >= slot, Date.now() + waitMs);
  }

  /** Resolves true once `condition` holds after some apply, or false at the deadline. */
  private until(condition: () => boolean, deadline: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        finish(true);
      };
      const finish = (met: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(met);
      };
      const timer = setTimeout(() => finish(false), Math.max(0, deadline - Date.now()));
      this.waiters.add(check);
    });
  }

  private afterLearning(): void {
    const store = this.replica.store;
    if (store.rev > this.deliveredThrough) {
      this.sockets.deliver(store.eventsFrom(this.deliveredThrough + 1));
      this.deliveredThrough = store.rev;
    }
    for (const check of [...this.waiters]) check();
    if (this.replica.missing()) void this.catchUp();
  }

  /** Fills gaps in the chosen log from peers, one at a time. */
  private async catchUp(): Promise<void> {
    if (this.catchingUp) return;
    this.catchingUp = true;
    try {
      const peers = this.config.acceptors.map((a) => a.name).filter((n) => n !== this.name);
      let fruitless = 0;
      for (let i = 0; fruitless < peers.length * catchUpRounds; i++) {
        const missing = this.replica.missing();
        const peer = peers[i % peers.length];
        if (!missing || !peer || this.fault.mode === "down") break;
        const before = this.replica.chosenThrough;
        try {
          const stub = this.env.ACCEPTOR.getByName(peer) as unknown as AcceptorRpc;
          const reply = await withTimeout(stub.fetchChosen(missing), this.config.rpcTimeoutMs);
          // A peer that is down answers at once: it counts as a fruitless ask, or with all
          // peers down this loop would spin.
          if (!("unavailable" in reply)) {
            this.replica.learn(reply.entries);
            this.afterLearning();
          }
        } catch {
          // An unreachable peer: ask the next one.
        }
        fruitless = this.replica.chosenThrough > before ? 0 : fruitless + 1;
      }
    } finally {
      this.catchingUp = false;
    }
  }
}
