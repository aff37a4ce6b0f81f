// The acceptor Durable Object: a thin adapter around core/replica.ts. It loads
// the replica from SQLite once, answers the Paxos and read RPCs, fills gaps in
// its log by asking its peers, and wakes reads that wait for a rev. It holds
// no protocol logic of its own. The proposer and reader it runs for its
// sockets (and, as the leader, for the Worker's writes) are server/'s, and
// reach this very object in process (acceptor-peers.ts).

import { DurableObject } from "cloudflare:workers";
import { CatchUp } from "../core/catch-up";
import { type ClusterConfig, parseClusterConfig } from "../core/cluster-config";
import { CodedError } from "../core/errors";
import { KeeperGrants, type PeerGrantAnswer } from "../core/keeper-lease";
import {
  catchUpMs,
  followEveryMs,
  keeperLeaseMs,
  replicaWaitersMax,
  transferPinIdleMs,
} from "../core/limits";
import {
  decodeMembership,
  encodeMembership,
  type Membership,
  membershipField,
  membershipOf,
  membershipRefusal,
  messageRefusal,
} from "../core/membership";
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
  Slot,
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
import { clockStepMsMaxDefault } from "../core/session-keeper";
import { type TransferReply, type TransferRequest, transferRestartsMax } from "../core/state-transfer";
import type { StoreEvent } from "../core/store";
import { isUnavailable } from "../server/acceptor-client";
import type {
  AcceptorRpc,
  AcceptorStatus,
  ProposeReply,
  SyncReply,
  Unavailable,
} from "../server/acceptor-rpc";
import { secretsFrom } from "../server/auth";
import { type Fault, type FaultSetting, healthy } from "../server/fault-setting";
import { type KeeperRedirect, KeeperRole } from "../server/keeper-role";
import { LeaderRole } from "../server/leader-role";
import { logLine } from "../server/log";
import { newRuntime, type Runtime } from "../server/runtime";
import type { KeepaliveAnswer } from "../server/session-keeping";
import { sleep, withTimeout } from "../server/timing";
import type { AcceptorEnv } from "./acceptor-env";
import { AcceptorPeers } from "./acceptor-peers";
import { ClientSockets } from "./client-sockets";
import { parseStoredFault, suffer } from "./fault";
import { KeeperGrantStorage } from "./keeper-grant-storage";
import { probeColo } from "./placement";
import { SqliteStorage } from "./sqlite-storage";

/** At most this often the keeper compares itself with the store on an apply (it always does at its alarm). */
const keeperTickOnApplyEveryMs = 250;

export class AcceptorObject extends DurableObject<AcceptorEnv> implements AcceptorRpc {
  private readonly config: ClusterConfig;
  private storage!: SqliteStorage;
  private replica!: Replica;
  private fault: Fault = healthy;
  /** Callbacks that re-check their condition after the store moves on. */
  private readonly waiters = new Set<() => void>();
  private catchingUp = false;
  /** After a catch-up gave up while the replica knows it is behind: when to try again (the alarm). */
  private catchUpRetryAtMs: number | undefined;
  /** The timer that releases a state pinned for a peer's transfer once no chunk is asked for. */
  private pinTimer: ReturnType<typeof setTimeout> | undefined;
  private sockets!: ClientSockets;
  /** A proposer and reader of this object's own, for requests that come over client sockets. */
  private ownRuntime: Runtime | undefined;
  private ownPeers: AcceptorPeers | undefined;
  private ownLeaderRole: LeaderRole | undefined;
  /** The session keeper's role, held by one acceptor at a time (server/keeper-role.ts). */
  private keeper!: KeeperRole;
  /** This acceptor's grants of that role (core/keeper-lease.ts), and where they are kept. */
  private grants!: KeeperGrants;
  private grantStorage!: KeeperGrantStorage;
  /** The data centre this object was last seen running in, when the platform could tell. */
  private colo: string | undefined;
  /** When the keeper last ticked because its replica applied a slot. */
  private keeperTickedAtMs = 0;
  /** The membership this acceptor stored at its first use, and why it refuses to serve, if it does. */
  private stored!: Membership;
  private refusal: string | undefined;
  private refusalLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(ctx: DurableObjectState, env: AcceptorEnv) {
    super(ctx, env);
    this.config = parseClusterConfig(env);
    const loaded = ctx.blockConcurrencyWhile(async () => {
      this.storage = new SqliteStorage(ctx.storage);
      this.checkMembership();
      this.replica = new Replica(this.storage, {
        historyRevs: this.config.historyRevs,
        storeBytesMax: this.config.storeBytesMax,
        logSlotsKept: this.config.logSlotsKept,
      });
      this.fault = this.config.faultsEnabled ? parseStoredFault(this.storage.getMeta("fault")) : healthy;
      this.sockets = new ClientSockets({
        ctx,
        secrets: secretsFrom(env),
        store: () => this.replica.store,
        runtime: () => this.runtime(),
        fault: () => this.fault,
        reachSlot: (slot, waitMs) => this.reachSlot(slot, waitMs),
        watchStarted: () => void this.scheduleAlarm(),
      });
      this.grantStorage = new KeeperGrantStorage(ctx.storage.sql, this.storage);
      this.grants = new KeeperGrants(
        { leaseMs: keeperLeaseMs, stepMsMax: clockStepMsMaxDefault, stored: this.grantStorage.load() },
        Date.now(),
      );
      this.keeper = this.newKeeperRole();
      this.sockets.restore();
      await this.scheduleAlarm();
    });
    // Outside blockConcurrencyWhile: taking the keeper's role takes a read barrier, and
    // requests (a peer's Paxos messages among them) must be served meanwhile.
    void loaded.then(() => this.keeperWake());
    if (env.DOOZER_PLACEMENT_PROBE === "1") {
      void loaded.then(() => {
        this.colo = this.storage.getMeta("colo");
        return this.learnPlacement();
      });
    }
  }

  // ---- Client WebSockets (the Worker forwards /v1/ws here) ----

  override async fetch(request: Request): Promise<Response> {
    if (this.refusal) return new Response(this.refusal, { status: 503 });
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
    return this.guard(() => this.replica.prepare(message), message);
  }

  async accept(message: Accept): Promise<Accepted | Rejected | Unavailable> {
    return this.guard(() => this.replica.accept(message), message);
  }

  async commit(message: Commit): Promise<Committed<MutationOutcome> | Unavailable> {
    return this.guard(() => {
      const reply = this.applying(() => this.replica.commit(message));
      this.afterLearning();
      return reply;
    }, message);
  }

  /** A peer catching up asks for chosen entries. */
  async fetchChosen(message: Fetch): Promise<Fetched | Unavailable> {
    return this.guard(() => this.replica.fetch(message), message);
  }

  /** A peer whose missing slots this acceptor trimmed asks for its store's state, a chunk at a time. */
  async transferState(request: TransferRequest): Promise<TransferReply | Unavailable> {
    return this.guard(() => {
      const reply = this.replica.transferChunk(request, Date.now());
      this.watchPin();
      return reply;
    }, request);
  }

  /** While a state is pinned for peers, checks now and then whether they stopped asking, to release it. */
  private watchPin(): void {
    if (this.pinTimer !== undefined || !this.replica.pinned) return;
    this.pinTimer = setTimeout(() => {
      this.pinTimer = undefined;
      this.replica.tick(Date.now());
      this.watchPin();
    }, transferPinIdleMs / 4);
  }

  async status(): Promise<AcceptorStatus | Unavailable> {
    return this.guard(() => ({
      name: this.name,
      storageWrites: this.storage.writes,
      ...this.replica.status(),
      ...(this.colo === undefined ? {} : { colo: this.colo }),
      keeperTerm: this.replica.store.keeperTerm,
      keeper: this.keeper.heldTerm !== undefined,
      leaderTerm: this.leaderRole().current.term,
      leader: this.leaderRole().current.leader,
    }));
  }

  /** Learns, once per object, the data centre it runs in (deployed Workers only: acceptors/placement.ts). */
  private async learnPlacement(): Promise<void> {
    const colo = await probeColo();
    if (colo === undefined) return;
    this.colo = colo;
    this.storage.setMeta("colo", colo);
  }

  // ---- Writes proposed here (the "leader" route) ----

  async propose(mutation: Mutation, origin?: string): Promise<ProposeReply | Unavailable> {
    return this.guard(async () => {
      const role = this.leaderRole();
      const elsewhere = role.redirect();
      if (elsewhere) return elsewhere;
      try {
        const outcome = await this.runtime().proposer.write(mutation, this.ctx);
        role.led(origin);
        return { outcome };
      } catch (error) {
        return { error: toErrorValue(error) };
      }
    });
  }

  /** Finishes the log through `through` with this acceptor's proposer, for a read barrier above a hole. */
  async sync(through: Slot): Promise<SyncReply | Unavailable> {
    return this.guard(async () => {
      try {
        return { synced: await this.runtime().proposer.sync(through, this.config.writeTimeoutMs, this.ctx) };
      } catch {
        // Its proposer holds as many syncs as it may: no majority for this one now; the read answers NO_QUORUM.
        return { synced: false };
      }
    });
  }

  // ---- Sessions (one acceptor at a time holds the keeper's role: server/keeper-role.ts) ----

  async keepalive(sessions: string[]): Promise<KeepaliveAnswer[] | KeeperRedirect | Unavailable> {
    return this.guard(async () => {
      const answers = await this.keeper.keepalive(sessions);
      await this.scheduleAlarm();
      return answers;
    });
  }

  async grantKeeper(
    candidate: string,
    heard: string[],
    wantHeard: boolean,
  ): Promise<PeerGrantAnswer | Unavailable> {
    return this.guard(() => {
      const { chosenThrough, maxAccepted } = this.replica.status();
      return { ...this.grantLocally(candidate, heard, wantHeard), chosenThrough, maxAccepted };
    });
  }

  async releaseKeeper(candidate: string): Promise<true | Unavailable> {
    return this.guard(() => {
      this.grants.release(candidate);
      return true as const;
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
      // The store is read anew after each wait: a state transfer may have replaced it meanwhile.
      const store = () => this.replica.store;
      const atRev = request.rev ?? store().rev;
      // Below a transferred store's history, yet in the window: a peer that was never behind has it.
      if (store().lacksTransferredHistory(atRev, false)) return this.transferredAbove(atRev);
      try {
        if (atRev > store().rev && !(await this.until(() => store().rev >= atRev, deadline))) {
          throw new CodedError(
            "TIMEOUT",
            `rev ${atRev} was not reached in ${request.timeoutMs} ms (store rev ${store().rev})`,
          );
        }
        return {
          ok: true,
          result: executeRead(store(), request.query, atRev),
          readAt: atRev,
          ...this.position(),
        };
      } catch (error) {
        const value = toErrorValue(error);
        // A missing file is an answer about the tree at a rev: say which (SPEC §2, NOENT's Doozer-Store-Rev).
        if (value.code === "NOENT") value.storeRev = atRev;
        return { ok: false, error: value, ...this.position() };
      }
    });
  }

  /** WAIT: the first change at or after `rev` to a file matching `glob`, or `event: undefined` on timeout. */
  async wait(request: WaitRequest): Promise<WaitReply | Unavailable> {
    return this.guard(async () => {
      if (!(await this.reachSlot(request.minSlot, request.catchUpMs))) return this.behind();
      const deadline = Date.now() + request.timeoutMs;
      const store = () => this.replica.store;
      if (store().lacksTransferredHistory(request.rev, true)) return this.transferredAbove(request.rev);
      try {
        // Each look starts after the revs already looked at, so a WAIT parked for long costs
        // only the new revs, and meets TOO_LATE only if events it never saw left the window.
        let from = request.rev;
        let event: StoreEvent | undefined;
        const look = () => {
          event = store().firstEvent(request.glob, from);
          if (event === undefined) from = Math.max(from, store().rev + 1);
          return event !== undefined;
        };
        if (!look() && (await this.until(look, deadline))) look();
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
   * Two jobs wake this object. While watches run here, it checks its peers every
   * second for slots it has not learnt: a commit it missed (it was down, or the
   * message was lost) would otherwise hold its watchers' events back until the
   * next write. As the session keeper, it ends the sessions whose time is up,
   * with no request arriving.
   */
  override async alarm(): Promise<void> {
    if (this.refusal) return;
    if (this.sockets.watching && this.fault.mode !== "down") await this.follow();
    if (this.catchUpRetryAtMs !== undefined && Date.now() >= this.catchUpRetryAtMs) {
      this.catchUpRetryAtMs = undefined;
      if (this.fault.mode !== "down" && this.replica.missing()) void this.catchUp();
    }
    if (this.fault.mode !== "down") await this.keeper.wake();
    await this.scheduleAlarm();
  }

  private async keeperWake(): Promise<void> {
    if (this.refusal || this.fault.mode === "down") return;
    await this.keeper.wake();
    await this.scheduleAlarm();
  }

  private newKeeperRole(): KeeperRole {
    return new KeeperRole({
      self: this.name,
      acceptors: this.config.acceptors.map((a) => a.name),
      preferred: this.config.leader,
      store: () => this.replica.store,
      now: Date.now,
      random: Math.random,
      grantLocally: (heard, wantHeard) => this.grantLocally(this.name, heard, wantHeard),
      requestGrant: async (peer, heard, wantHeard) => {
        const answer = await withTimeout(
          this.peers()
            .peer(peer)
            .grantKeeper(this.name, [...heard], wantHeard),
          this.config.rpcTimeoutMs,
        );
        if (isUnavailable(answer)) throw new Error(answer.unavailable);
        return answer;
      },
      releaseLocally: () => this.grants.release(this.name),
      requestRelease: async (peer) => {
        await withTimeout(this.peers().peer(peer).releaseKeeper(this.name), this.config.rpcTimeoutMs);
      },
      chosenThrough: () => this.replica.chosenThrough,
      peerChosenThrough: (slot) => {
        if (slot <= this.replica.chosenThrough) return;
        this.replica.expect(slot);
        void this.catchUp();
      },
      grantHolder: () => this.grants.holder(Date.now()),
      grantRemainingMs: () => this.grants.remainingMs(Date.now()),
      syncToBarrier: () => this.syncToBarrier(),
      catchUp: () => this.catchUpToBarrier(),
      propose: (mutation) => this.proposeApplied(mutation),
      waitUntil: (work) => this.ctx.waitUntil(work),
      scheduleWake: () => this.ctx.waitUntil(this.scheduleAlarm()),
    });
  }

  /**
   * Grants the keeper's role, keeping the grantee and the heard marks across
   * restarts (KeeperGrants); a candidate taking over gets the marks, of the
   * sessions this replica knows alive.
   */
  private grantLocally(candidate: string, heard: readonly string[], wantHeard: boolean): PeerGrantAnswer {
    const now = Date.now();
    const answer = this.grants.request(candidate, now, heard);
    if (!answer.granted) return answer;
    this.grantStorage.granted(candidate, heard, this.grants.clockMs);
    const store = this.replica.store;
    // Marks of sessions no longer alive here go, so that they stay about as many as the sessions.
    if (wantHeard || this.grants.heardCount > 2 * store.sessionCount + 1024) {
      this.grantStorage.forget(this.grants.forget((session) => store.sessionTtlMs(session) !== undefined));
    }
    return wantHeard ? { ...answer, heard: this.grants.heard(now) } : answer;
  }

  /**
   * Applies every slot through the read barrier, finishing them with this
   * object's proposer if need be: a keeper that started from a store behind the
   * log would answer keepalives for a session whose end was already decided,
   * or miss a later keeper term (test/sim/sessions.ts).
   */
  private async syncToBarrier(): Promise<void> {
    const runtime = this.runtime();
    const barrier = await runtime.reader.barrier(this.ctx);
    if (await this.reachSlot(barrier.slot, catchUpMs)) return;
    await runtime.proposer.sync(barrier.slot, this.config.writeTimeoutMs, this.ctx);
    if (!(await this.reachSlot(barrier.slot, catchUpMs))) throw new Error("behind the read barrier");
  }

  /**
   * The keeper's writes resolve once its own replica has applied them: the
   * first replica to answer may be another, and a keeper that forgot a session
   * its own store still shows alive would take it back at the next keepalive.
   */
  private async proposeApplied(mutation: Mutation): Promise<MutationOutcome> {
    const outcome = await this.runtime().proposer.write(mutation, this.ctx);
    const applied = () => this.replica.store.hasApplied(mutation, outcome);
    if (!applied() && !(await this.until(applied, Date.now() + this.config.writeTimeoutMs))) {
      throw new Error(`${this.name} has not applied ${mutation.id} (rev ${outcome.rev}) yet`);
    }
    return outcome;
  }

  private async follow(): Promise<void> {
    const known = await Promise.all(
      this.peerNames().map((peer) =>
        withTimeout(this.peers().peer(peer).status(), this.config.rpcTimeoutMs).then(
          (s) => (isUnavailable(s) ? 0 : s.chosenThrough),
          () => 0,
        ),
      ),
    );
    let ahead = 0;
    for (const chosen of known) ahead = Math.max(ahead, chosen);
    if (ahead > this.replica.chosenThrough) {
      this.replica.expect(ahead);
      void this.catchUp();
    }
  }

  /** The alarm at the earliest of the next follow and the keeper's next deadline; none when neither is due. */
  private async scheduleAlarm(): Promise<void> {
    let at = this.sockets.watching ? Date.now() + followEveryMs : Number.POSITIVE_INFINITY;
    if (this.catchUpRetryAtMs !== undefined) at = Math.min(at, this.catchUpRetryAtMs);
    const deadline = this.fault.mode === "down" ? undefined : this.keeper.nextWakeMs();
    if (deadline !== undefined) at = Math.min(at, Math.max(deadline, Date.now() + 1));
    if (at === Number.POSITIVE_INFINITY) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at || current < Date.now()) await this.ctx.storage.setAlarm(at);
  }

  /** Brings this replica to the read barrier: what a majority has accepted, it has applied (or it gave up). */
  private async catchUpToBarrier(): Promise<void> {
    try {
      const barrier = await this.runtime().reader.barrier(this.ctx);
      await this.reachSlot(barrier.slot, catchUpMs);
    } catch {
      // No majority: the keeper answers from what it has, and a session it does not know is NOSESSION.
    }
  }

  // ---- Membership (docs/PROTOCOL.md, "Membership") ----

  /**
   * Stores the configured membership at first use; afterwards compares. An
   * acceptor whose configuration disagrees with what it stored refuses every
   * Paxos, read and socket request (as unavailable: callers see NO_QUORUM),
   * and says why in `membership()`, which the Worker shows in /v1/health and /v1/cluster.
   */
  private checkMembership(): void {
    const configured = membershipOf(this.config);
    const stored = decodeMembership(this.storage.getMeta("membership"));
    this.stored = stored ?? configured;
    this.refusal = stored ? membershipRefusal(this.name, configured, stored) : undefined;
    if (!stored && !configured.acceptors.includes(this.name)) {
      this.refusal = membershipRefusal(this.name, configured, configured);
      return; // A name outside the cluster stores nothing.
    }
    if (this.refusal) {
      this.logRefusal(this.refusal);
      return;
    }
    if (!stored || stored.stateMachineVersion < configured.stateMachineVersion) {
      this.storage.setMeta(
        "membership",
        encodeMembership({ ...this.stored, stateMachineVersion: configured.stateMachineVersion }),
      );
    }
  }

  /** One JSON log line per refusal, at most one every 10 s (Workers Logs, `wrangler tail`). */
  private logRefusal(message: string): void {
    if (Date.now() - this.refusalLoggedAt < 10_000) return;
    this.refusalLoggedAt = Date.now();
    logLine("error", "membership-refused", { acceptor: this.name, message });
  }

  /** What this acceptor stored, what it is configured with, and its refusal if any. Never refused itself. */
  async membership(): Promise<{ stored: Membership; configured: Membership; refusal?: string }> {
    const configured = membershipOf(this.config);
    return this.refusal
      ? { stored: this.stored, configured, refusal: this.refusal }
      : { stored: this.stored, configured };
  }

  // ---- Adapter internals ----

  /** Who leads the writes, as this replica knows it, and the weighing of where they come from. */
  private leaderRole(): LeaderRole {
    this.ownLeaderRole ??= new LeaderRole({
      self: this.name,
      config: this.config,
      stored: () => this.replica.store.leaderTerm,
      promisedRound: () => this.replica.status().promised.round,
      raiseRound: (round) => this.runtime().proposer.raiseRound(round),
      propose: (mutation) => this.proposeApplied(mutation),
      waitUntil: (work) => this.ctx.waitUntil(work),
      nowMs: () => Date.now(),
      moved: (from, to, { currentMs, bestMs }) =>
        logLine("info", "leader-move", {
          acceptor: this.name,
          from: this.config.acceptors[from.leader]?.name,
          to: this.config.acceptors[to.leader]?.name,
          term: to.term,
          expectedMs: Math.round(currentMs),
          bestMs: Math.round(bestMs),
        }),
    });
    return this.ownLeaderRole;
  }

  /** A proposer and reader of this object's own, for socket requests and leader-route writes. */
  private runtime(): Runtime {
    this.ownRuntime ??= newRuntime({ config: this.config, peers: this.peers(), self: this.name });
    return this.ownRuntime;
  }

  /** The cluster as this object sees it: its peers' stubs, and itself in process. */
  private peers(): AcceptorPeers {
    this.ownPeers ??= new AcceptorPeers(this.env.ACCEPTOR, this.config, { name: this.name, local: this });
    return this.ownPeers;
  }

  private peerNames(): string[] {
    return this.config.acceptors.map((a) => a.name).filter((n) => n !== this.name);
  }

  /**
   * Applies the fault switch to one request and its answer, as if the network to
   * this region failed. A refusal is an answer value, not a thrown error, so that
   * a downed acceptor does not fill the log with uncaught errors.
   */
  private async guard<T>(handle: () => T | Promise<T>, message?: object): Promise<T | Unavailable> {
    const stamp = message && (message as Record<string, unknown>)[membershipField];
    const refusal = this.refusal ?? messageRefusal(this.name, this.stored, stamp);
    if (refusal) {
      this.logRefusal(refusal);
      return { unavailable: refusal };
    }
    const refused = await suffer(this.fault, this.name, "request");
    if (refused) return refused;
    const result = await handle();
    return (await suffer(this.fault, this.name, "answer")) ?? result;
  }

  private position(): ReplicaPosition {
    return { chosenThrough: this.replica.chosenThrough, storeRev: this.replica.store.rev };
  }

  /** Refuses a read this replica cannot serve since a state transfer (the reader then asks another). */
  private transferredAbove(rev: number): Unavailable {
    return {
      unavailable: `${this.name} holds no history at rev ${rev}: its store was transferred at a later one`,
    };
  }

  private behind(): ReadReply & WaitReply {
    return {
      ok: false,
      error: { code: "TIMEOUT", message: `${this.name} has not caught up with the read barrier` },
      ...this.position(),
    };
  }

  /**
   * Waits until the replica has applied `slot`, fetching the gap from peers
   * meanwhile. With every waiter slot taken it answers behind at once: the
   * caller then tries another replica.
   */
  private async reachSlot(slot: number | undefined, waitMs = 0): Promise<boolean> {
    if (slot === undefined || this.replica.chosenThrough >= slot) return true;
    this.replica.expect(slot);
    void this.catchUp();
    if (this.waiters.size >= replicaWaitersMax) return false;
    return this.until(() => this.replica.chosenThrough >= slot, Date.now() + waitMs);
  }

  /**
   * Resolves true once `condition` holds after some apply, or false at the
   * deadline. The waiters are bounded, so that a flood of long WAITs cannot
   * exhaust the object's memory: past the bound, NO_QUORUM, which clients retry.
   */
  private until(condition: () => boolean, deadline: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    if (this.waiters.size >= replicaWaitersMax) {
      throw new CodedError(
        "NO_QUORUM",
        `${this.name} has ${replicaWaitersMax} requests waiting already; try again`,
      );
    }
    return new Promise((resolve) => {
      const check = () => {
        try {
          if (!condition()) return;
        } catch {
          // A waiter's error (TOO_LATE, say) is its own: it runs the condition again
          // outside the apply path and meets the error there, not in the commit of another.
        }
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

  /**
   * Runs a step that applies chosen slots. Its SQLite transaction rolls back if
   * it throws, but the replica's memory (the learner, the store's counters) has
   * moved on: the object ends itself, and comes back from SQLite as it was.
   */
  private applying<T>(step: () => T): T {
    try {
      return step();
    } catch (error) {
      this.ctx.abort(
        `applying a chosen slot failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw error;
    }
  }

  private afterLearning(): void {
    this.keeperAfterApply();
    // The watchers' events go out in later turns (acceptors/watch-delivery.ts): this turn's answer
    // (a commit's, say) does not wait for a fan-out. A watch that a catch-up left behind the
    // history window ends TOO_LATE there.
    this.sockets.applied();
    for (const check of [...this.waiters]) check();
    if (this.replica.missing()) void this.catchUp();
  }

  /**
   * The keeper hears of a session opened through any proposer when its replica
   * applies it, not only at its next alarm: a keeper that kept no session has
   * no alarm set, and the session would never expire (test/sim/sessions.ts,
   * seed 537). Throttled, since the comparison with the store scans the sessions.
   */
  private keeperAfterApply(): void {
    if (this.fault.mode === "down" || this.replica.store.sessionCount === 0) return;
    const now = Date.now();
    if (now - this.keeperTickedAtMs < keeperTickOnApplyEveryMs) return;
    this.keeperTickedAtMs = now;
    this.keeper.afterApply();
    // Every acceptor that holds sessions watches the keeper's grants (KeeperRole.wake).
    this.ctx.waitUntil(this.scheduleAlarm());
  }

  /** Fills gaps in the chosen log from peers, one fetch at a time, as core/catch-up.ts directs. */
  private async catchUp(): Promise<void> {
    if (this.catchingUp) return;
    this.catchingUp = true;
    try {
      const peers = this.peerNames();
      const plan = new CatchUp({ peers, firstPeer: Math.floor(Math.random() * peers.length) });
      while (this.fault.mode !== "down") {
        const step = plan.next(this.replica.missing());
        if (step.kind === "done") break;
        if (step.kind === "give-up") {
          logLine("warn", "catch-up-failed", {
            acceptor: this.name,
            chosenThrough: this.replica.chosenThrough,
            missing: this.replica.missing(),
          });
          // It knows it is behind: try again at the next alarm, whatever else wakes it or not.
          this.catchUpRetryAtMs = Date.now() + followEveryMs;
          this.ctx.waitUntil(this.scheduleAlarm());
          break;
        }
        if (step.kind === "wait") {
          await sleep(step.ms);
          continue;
        }
        if (step.kind === "transfer") {
          plan.transferred(step.peer, await this.transferFrom(step.peer));
          continue;
        }
        const before = this.replica.chosenThrough;
        let reply: Fetched | Unavailable;
        try {
          reply = await withTimeout(
            this.peers().peer(step.peer).fetchChosen(step.fetch),
            this.config.rpcTimeoutMs,
          );
        } catch {
          plan.unreachable(step.peer);
          continue;
        }
        if (isUnavailable(reply)) {
          plan.unreachable(step.peer);
          continue;
        }
        if (reply.trimmedThrough !== undefined) {
          plan.trimmed(step.peer, reply.trimmedThrough);
          continue;
        }
        this.applying(() => this.replica.learn(reply.entries));
        this.afterLearning();
        plan.answered(step.peer, this.replica.chosenThrough > before);
      }
    } finally {
      this.catchingUp = false;
    }
  }

  /**
   * Takes the store's state from `peer`, a chunk at a time (core/state-transfer.ts):
   * true once it is installed. Each chunk is staged durably, so a crash here
   * resumes where it stopped; the install switches the store in one transaction.
   */
  private async transferFrom(peer: string): Promise<boolean> {
    let restarts = 0;
    logLine("info", "state-transfer-started", {
      acceptor: this.name,
      from: peer,
      slot: this.replica.chosenThrough,
    });
    while (this.fault.mode !== "down") {
      let reply: TransferReply | Unavailable;
      try {
        reply = await withTimeout(
          this.peers().peer(peer).transferState(this.replica.transferRequest()),
          this.config.rpcTimeoutMs * 4,
        );
      } catch {
        return false;
      }
      if (isUnavailable(reply)) return false;
      const progress = this.applying(() => this.replica.takeTransferChunk(reply));
      if (progress === "installed") {
        logLine("info", "state-transfer-installed", {
          acceptor: this.name,
          from: peer,
          slot: this.replica.chosenThrough,
          rev: this.replica.store.rev,
        });
        this.afterLearning();
        return true;
      }
      if (progress === "restart" && ++restarts > transferRestartsMax) return false;
    }
    return false;
  }
}
