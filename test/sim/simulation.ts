// A seeded, deterministic simulation of a doozer-edge cluster: acceptors
// (Replica), competing proposers (Proposer) and clients, over a network that
// drops, duplicates, delays and reorders messages, with acceptors crashing and
// restarting from their durable storage and proposers dying mid-flight.
//
// Run 1 (safety) injects faults and checks every invariant after every step.
// Run 2 (liveness) heals everything and checks that new requests are answered
// and every replica catches up. One seed reproduces one run exactly.

import { batchBytesMax, batchMutationsMax } from "../../core/limits";
import {
  decodeBatch,
  encodeBatch,
  encodedSize,
  type Mutation,
  type MutationOutcome,
} from "../../core/mutation";
import { formatBallot } from "../../core/paxos/ballot";
import { bytesEqual } from "../../core/paxos/learner";
import type { AcceptorReply, Fetch, Fetched, ProposerMessage, Slot } from "../../core/paxos/messages";
import { type Completion, Proposer } from "../../core/paxos/proposer";
import { Replica } from "../../core/replica";
import { Store } from "../../core/store";
import { MemoryStorage } from "./memory-storage";
import { Random } from "./random";

export interface SimulationOptions {
  seed: number;
  acceptors: number;
  proposers: number;
  /** Steps with faults, then up to `livenessSteps` without. */
  safetySteps: number;
  livenessSteps: number;
  dropRate: number;
  duplicateRate: number;
  /** Chance per step that an acceptor crashes (or a crashed one restarts), and that a proposer dies. */
  crashRate: number;
  proposerCrashRate: number;
  /** Chance per step that a client submits a write. */
  submitRate: number;
  keys: number;
  /** Called with a line per notable event when tracing a seed. */
  trace?: (line: string) => void;
}

export const defaultSimulation: Omit<SimulationOptions, "seed"> = {
  acceptors: 5,
  proposers: 3,
  safetySteps: 4000,
  livenessSteps: 20000,
  dropRate: 0.1,
  duplicateRate: 0.05,
  crashRate: 0.01,
  proposerCrashRate: 0.002,
  submitRate: 0.15,
  keys: 3,
};

/**
 * The shape of the run for a seed: the seed also picks the cluster size, the
 * number of proposers and how hostile the network is, so a sweep covers them all.
 */
export function simulationForSeed(seed: number): SimulationOptions {
  const r = new Random(seed ^ 0x5eed);
  return {
    ...defaultSimulation,
    seed,
    acceptors: r.pick([3, 5]),
    proposers: 2 + r.int(3),
    dropRate: r.pick([0, 0.05, 0.2, 0.35]),
    duplicateRate: r.pick([0, 0.05, 0.2]),
    crashRate: r.pick([0.002, 0.01, 0.03]),
    proposerCrashRate: r.pick([0, 0.002, 0.01]),
    submitRate: r.pick([0.01, 0.04, 0.15]),
    keys: r.pick([1, 3, 8]),
  };
}

type Payload =
  | { kind: "to-acceptor"; message: ProposerMessage }
  | { kind: "to-proposer"; reply: AcceptorReply<MutationOutcome> }
  | { kind: "fetch"; message: Fetch }
  | { kind: "fetched"; message: Fetched };

interface Envelope {
  from: string;
  to: string;
  payload: Payload;
  deliverAt: number;
}

interface AcceptorNode {
  name: string;
  storage: MemoryStorage;
  replica: Replica | undefined;
  fetchSentAt: number;
}

interface ProposerNode {
  name: string;
  proposer: Proposer<Mutation, MutationOutcome>;
  incarnation: number;
}

interface ClientRecord {
  mutation: Mutation;
  submittedAt: number;
  phase: "safety" | "liveness";
  result?: { kind: "decided"; outcome: MutationOutcome } | { kind: "expired" } | { kind: "lost" };
}

const retryMs = 50;
const commandTimeoutMs = 2_000;
const livenessTimeoutMs = 1_000_000;

export class SafetyViolation extends Error {}

export interface SimulationReport {
  seed: number;
  steps: number;
  chosenSlots: number;
  decided: number;
  expired: number;
  messages: number;
  staleAccepts: number;
}

export class Simulation {
  private readonly random: Random;
  private time = 0;
  private steps = 0;
  private messagesSent = 0;
  /**
   * Accepts refused because the acceptor promised a higher ballot: a proposer
   * that still believed it held its ballot (the one-round-trip path) lost it.
   */
  private staleAccepts = 0;
  private readonly network: Envelope[] = [];
  private readonly acceptors: AcceptorNode[] = [];
  private readonly proposers: ProposerNode[] = [];
  private readonly clients = new Map<string, ClientRecord>();
  private nextMutation = 1;
  private faults = true;

  /** (slot, ballot) → acceptors that voted, with the value: a quorum of votes means chosen. */
  private readonly votes = new Map<string, { value: Uint8Array; voters: Set<string> }>();
  /** The one value each slot was chosen with, as seen from the votes. */
  private readonly chosen = new Map<Slot, Uint8Array>();
  /** Per replica, the slots already checked against `chosen`. */
  private readonly checkedThrough = new Map<string, Slot>();
  /** The serialized tree at each rev, as the first replica to reach it had it. */
  private readonly treeAtRev = new Map<number, string>();
  private readonly quorum: number;

  constructor(private readonly options: SimulationOptions) {
    this.random = new Random(options.seed);
    this.quorum = Math.floor(options.acceptors / 2) + 1;
    for (let i = 0; i < options.acceptors; i++) {
      const storage = new MemoryStorage();
      this.acceptors.push({
        name: `acceptor-${i}`,
        storage,
        replica: new Replica(storage),
        fetchSentAt: -Infinity,
      });
    }
    for (let i = 0; i < options.proposers; i++) this.proposers.push(this.newProposer(`proposer-${i}`, 0));
  }

  run(): SimulationReport {
    for (let i = 0; i < this.options.safetySteps; i++) this.step();
    this.heal();
    const target = this.submitLivenessLoad();
    let guard = 0;
    while (!this.settled(target)) {
      if (guard++ > this.options.livenessSteps) {
        throw new SafetyViolation(
          `liveness: not settled after ${this.options.livenessSteps} steps (${this.describe()})`,
        );
      }
      this.step();
    }
    this.checkOutcomes();
    let decided = 0;
    let expired = 0;
    for (const c of this.clients.values()) {
      if (c.result?.kind === "decided") decided++;
      if (c.result?.kind === "expired") expired++;
    }
    return {
      seed: this.options.seed,
      steps: this.steps,
      chosenSlots: this.chosen.size,
      decided,
      expired,
      messages: this.messagesSent,
      staleAccepts: this.staleAccepts,
    };
  }

  private step(): void {
    this.steps++;
    const r = this.random;
    if (this.faults) this.injectFaults();
    if (this.faults && r.chance(this.options.submitRate)) this.submit("safety", commandTimeoutMs);
    const ready = this.network.filter((e) => e.deliverAt <= this.time);
    if (ready.length > 0 && r.chance(0.9)) {
      // Any ready message may go next: delivery order is a free choice of the seed.
      const envelope = r.pick(ready);
      this.network.splice(this.network.indexOf(envelope), 1);
      this.deliver(envelope);
    } else {
      this.advanceTime();
    }
    this.checkInvariants();
  }

  private injectFaults(): void {
    const r = this.random;
    if (r.chance(this.options.crashRate)) {
      const node = r.pick(this.acceptors);
      if (node.replica) {
        // At most a minority down at once, or nothing could be decided in the safety run.
        const down = this.acceptors.filter((a) => !a.replica).length;
        if (down + 1 < this.quorum || r.chance(0.2)) {
          node.replica = undefined;
          this.trace(`crash ${node.name}`);
        }
      } else {
        this.restart(node);
      }
    }
    if (r.chance(this.options.proposerCrashRate)) {
      const index = r.int(this.proposers.length);
      const old = this.proposers[index];
      if (old) {
        for (const c of this.clients.values()) {
          if (!c.result && c.mutation.id.startsWith(`${old.name}/${old.incarnation}/`))
            c.result = { kind: "lost" };
        }
        this.proposers[index] = this.newProposer(old.name, old.incarnation + 1);
        this.trace(`proposer ${old.name} dies; incarnation ${old.incarnation + 1} starts`);
      }
    }
  }

  private restart(node: AcceptorNode): void {
    node.replica = new Replica(node.storage);
    node.fetchSentAt = -Infinity;
    this.trace(`restart ${node.name} at slot ${node.replica.chosenThrough}`);
    this.checkedThrough.delete(node.name);
  }

  private heal(): void {
    this.faults = false;
    for (const node of this.acceptors) if (!node.replica) this.restart(node);
    this.trace("heal");
  }

  private submitLivenessLoad(): number {
    for (let i = 0; i < 5; i++) this.submit("liveness", livenessTimeoutMs);
    return this.maxChosen();
  }

  private settled(_target: Slot): boolean {
    for (const c of this.clients.values()) if (c.phase === "liveness" && !c.result) return false;
    const top = this.maxChosen();
    return this.acceptors.every((a) => a.replica && a.replica.chosenThrough >= top);
  }

  private maxChosen(): Slot {
    return Math.max(0, ...this.chosen.keys());
  }

  private newProposer(name: string, incarnation: number): ProposerNode {
    const id = `${name}.${incarnation}.${this.random.int(1e9).toString(36)}`;
    const proposer = new Proposer<Mutation, MutationOutcome>({
      id,
      acceptors: this.acceptors.map((a) => a.name),
      random: () => this.random.next(),
      pack: encodeBatch,
      sizeOf: encodedSize,
      batchCommandsMax: batchMutationsMax,
      batchBytesMax,
      retryMs,
      backoffMs: 10,
      backoffMsMax: 400,
    });
    return { name, proposer, incarnation };
  }

  private submit(phase: ClientRecord["phase"], timeoutMs: number): void {
    const r = this.random;
    const node = r.pick(this.proposers);
    const path = `/k${r.int(this.options.keys)}`;
    const id = `${node.name}/${node.incarnation}/${this.nextMutation++}`;
    const kind = r.int(10);
    const rev = r.chance(0.5) ? -1 : r.int(Math.max(1, this.maxChosen() + 2));
    const mutation: Mutation =
      kind < 6
        ? { op: "set", id, path, rev, value: new TextEncoder().encode(id) }
        : kind < 9
          ? { op: "del", id, path, rev }
          : { op: "nop", id };
    this.clients.set(id, { mutation, submittedAt: this.time, phase });
    node.proposer.submit(mutation, this.time + timeoutMs, this.time);
    this.flushProposer(node);
  }

  private deliver(envelope: Envelope): void {
    const r = this.random;
    if (this.faults && r.chance(this.options.dropRate)) return;
    if (this.faults && r.chance(this.options.duplicateRate)) {
      this.network.push({ ...envelope, deliverAt: this.time + r.int(100) });
    }
    const { payload } = envelope;
    if (payload.kind === "to-proposer") {
      const node = this.proposers.find((p) => p.name === envelope.to);
      if (!node) return;
      node.proposer.receive(envelope.from, payload.reply, this.time);
      this.flushProposer(node);
      return;
    }
    const acceptor = this.acceptors.find((a) => a.name === envelope.to);
    const replica = acceptor?.replica;
    if (!acceptor || !replica) return;
    switch (payload.kind) {
      case "to-acceptor": {
        const reply = this.handle(acceptor, replica, envelope.from, payload.message);
        this.send(acceptor.name, envelope.from, { kind: "to-proposer", reply });
        break;
      }
      case "fetch":
        this.send(acceptor.name, envelope.from, { kind: "fetched", message: replica.fetch(payload.message) });
        break;
      case "fetched":
        replica.learn(payload.message.entries);
        acceptor.fetchSentAt = -Infinity;
        break;
    }
    this.maybeFetch(acceptor);
  }

  private handle(
    acceptor: AcceptorNode,
    replica: Replica,
    from: string,
    message: ProposerMessage,
  ): AcceptorReply<MutationOutcome> {
    switch (message.type) {
      case "prepare":
        return replica.prepare(message);
      case "accept": {
        const reply = replica.accept(message);
        if (reply.type === "rejected") this.staleAccepts++;
        if (reply.type === "accepted") {
          for (const entry of message.entries)
            this.vote(acceptor.name, entry.slot, message.ballot, entry.value);
        }
        this.trace(`${acceptor.name} ${reply.type} ${formatBallot(message.ballot)} from ${from}`);
        return reply;
      }
      case "commit":
        return replica.commit(message);
    }
  }

  private maybeFetch(acceptor: AcceptorNode): void {
    const missing = acceptor.replica?.missing();
    if (!missing || this.time - acceptor.fetchSentAt < retryMs) return;
    const peers = this.acceptors.filter((a) => a !== acceptor);
    acceptor.fetchSentAt = this.time;
    this.send(acceptor.name, this.random.pick(peers).name, { kind: "fetch", message: missing });
  }

  private flushProposer(node: ProposerNode): void {
    for (const { to, message } of node.proposer.takeMessages()) {
      this.send(node.name, to, { kind: "to-acceptor", message });
    }
    for (const completion of node.proposer.takeCompletions()) this.complete(completion);
  }

  private complete(completion: Completion<Mutation, MutationOutcome>): void {
    if (completion.kind === "synced" || completion.kind === "sync-expired") return;
    const record = this.clients.get(completion.command.id);
    if (!record) throw new SafetyViolation(`completion for an unknown command ${completion.command.id}`);
    if (record.result && record.result.kind !== "lost") {
      throw new SafetyViolation(`command ${completion.command.id} completed twice`);
    }
    record.result =
      completion.kind === "decided" ? { kind: "decided", outcome: completion.result } : { kind: "expired" };
  }

  private send(from: string, to: string, payload: Payload): void {
    this.messagesSent++;
    this.network.push({
      from,
      to,
      payload,
      deliverAt: this.time + 1 + this.random.int(this.faults ? 40 : 10),
    });
  }

  private advanceTime(): void {
    const next = Math.min(
      ...this.network.map((e) => e.deliverAt),
      ...this.proposers.map((p) => p.proposer.nextDeadline() ?? Infinity),
      this.time + retryMs,
    );
    this.time = Math.max(this.time + 1, next);
    for (const node of this.proposers) {
      node.proposer.tick(this.time);
      this.flushProposer(node);
    }
    for (const acceptor of this.acceptors) this.maybeFetch(acceptor);
  }

  private vote(
    acceptor: string,
    slot: Slot,
    ballot: { round: number; proposer: string },
    value: Uint8Array,
  ): void {
    const key = `${slot}/${formatBallot(ballot)}`;
    let entry = this.votes.get(key);
    if (!entry) {
      entry = { value, voters: new Set() };
      this.votes.set(key, entry);
    } else if (!bytesEqual(entry.value, value)) {
      throw new SafetyViolation(`ballot ${formatBallot(ballot)} proposed two values for slot ${slot}`);
    }
    entry.voters.add(acceptor);
    if (entry.voters.size < this.quorum) return;
    const before = this.chosen.get(slot);
    if (before && !bytesEqual(before, value)) {
      throw new SafetyViolation(`slot ${slot} chosen with two different values`);
    }
    this.chosen.set(slot, value);
  }

  private checkInvariants(): void {
    for (const node of this.acceptors) {
      const replica = node.replica;
      if (!replica) continue;
      const from = (this.checkedThrough.get(node.name) ?? 0) + 1;
      const through = replica.chosenThrough;
      if (through < from) continue;
      // Every slot a replica applied must be the one value the votes chose: the applied
      // logs are then prefixes of one log.
      for (const entry of node.storage.readChosen(from, through, Number.MAX_SAFE_INTEGER)) {
        const chosen = this.chosen.get(entry.slot);
        if (!chosen)
          throw new SafetyViolation(`${node.name} applied slot ${entry.slot}, which no quorum chose`);
        if (!bytesEqual(chosen, entry.value)) {
          throw new SafetyViolation(
            `${node.name} applied a value for slot ${entry.slot} that was not chosen`,
          );
        }
      }
      this.checkedThrough.set(node.name, through);
      const tree = replica.store.serialize();
      const seen = this.treeAtRev.get(replica.store.rev);
      if (seen === undefined) this.treeAtRev.set(replica.store.rev, tree);
      else if (seen !== tree)
        throw new SafetyViolation(`${node.name} has a different tree at rev ${replica.store.rev}`);
    }
  }

  /** Every decided answer a client got is what the one log gives for that mutation. */
  private checkOutcomes(): void {
    const store = new Store();
    const outcomes = new Map<string, MutationOutcome>();
    for (let slot = 1; slot <= this.maxChosen(); slot++) {
      const value = this.chosen.get(slot);
      if (!value) throw new SafetyViolation(`slot ${slot} has no chosen value after the liveness run`);
      const mutations = decodeBatch(value);
      store.apply(mutations).forEach((outcome, i) => {
        const id = mutations[i]?.id;
        if (id && !outcomes.has(id)) outcomes.set(id, outcome);
      });
    }
    for (const [id, record] of this.clients) {
      if (record.result?.kind !== "decided") continue;
      const truth = outcomes.get(id);
      if (!truth) throw new SafetyViolation(`acknowledged ${id} is not in the log`);
      if (JSON.stringify(truth) !== JSON.stringify(record.result.outcome)) {
        throw new SafetyViolation(
          `acknowledged ${id} answered ${JSON.stringify(record.result.outcome)}, log says ${JSON.stringify(truth)}`,
        );
      }
    }
  }

  private describe(): string {
    const replicas = this.acceptors.map((a) => `${a.name}@${a.replica?.chosenThrough ?? "down"}`).join(" ");
    const pending = [...this.clients.values()].filter((c) => !c.result).length;
    return `time ${this.time}, max chosen ${this.maxChosen()}, ${replicas}, ${pending} unanswered`;
  }

  private trace(line: string): void {
    this.options.trace?.(`[${this.time}] ${line}`);
  }
}
