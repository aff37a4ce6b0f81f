// A small cluster of the real Paxos roles, driven one step at a time by the
// scripts in this folder: proposers (core/paxos/proposer.ts) and replicas
// (core/replica.ts: acceptor, learner and store over in-memory storage that
// survives a crash). Nothing moves unless a command moves it: messages wait
// on their link until delivered or dropped, and each proposer's clock moves
// only when ticked. Every message sent and every outcome is printed, so a
// script's golden output reads as a trace of the protocol.

import { CodedError } from "../../../core/errors";
import { batchBytesMax, batchMutationsMax } from "../../../core/limits";
import {
  decodeBatch,
  encodeBatch,
  encodedSize,
  type Mutation,
  type MutationOutcome,
} from "../../../core/mutation";
import { type Ballot, formatBallot } from "../../../core/paxos/ballot";
import { bytesEqual } from "../../../core/paxos/learner";
import type {
  AcceptorReply,
  Fetch,
  Fetched,
  LogEntry,
  ProposerMessage,
  Slot,
} from "../../../core/paxos/messages";
import { type Completion, Proposer } from "../../../core/paxos/proposer";
import { quorumOf } from "../../../core/quorum";
import { Replica } from "../../../core/replica";
import { MemoryStorage } from "../../sim/memory-storage";

type Payload =
  | { kind: "to-acceptor"; message: ProposerMessage }
  | { kind: "to-proposer"; reply: AcceptorReply<MutationOutcome> }
  | { kind: "fetch"; message: Fetch }
  | { kind: "fetched"; message: Fetched };

interface Envelope {
  from: string;
  to: string;
  payload: Payload;
}

interface AcceptorNode {
  storage: MemoryStorage;
  replica: Replica | undefined;
}

interface ProposerNode {
  proposer: Proposer<Mutation, MutationOutcome>;
  now: number;
  nextMutation: number;
  syncs: Map<number, Slot>;
}

const retryMs = 400;
const timeoutMsDefault = 10_000;
const stabilizeRoundsMax = 100;

export class InteractionCluster {
  private readonly acceptors = new Map<string, AcceptorNode>();
  private readonly proposers = new Map<string, ProposerNode>();
  private network: Envelope[] = [];
  /** (slot, ballot) → the value and who accepted it: a quorum of them means chosen, seen from outside. */
  private readonly votes = new Map<string, { value: Uint8Array; voters: Set<string> }>();
  private readonly chosen = new Map<Slot, Uint8Array>();
  private quorum = 0;
  private out: string[] = [];

  run(line: string): string {
    this.out = [];
    const [verb = "", ...args] = line.split(/\s+/);
    const handler = this.commands[verb];
    if (!handler) throw new Error(`unknown command "${verb}"`);
    handler(args);
    return this.out.length > 0 ? this.out.join("\n") : "ok";
  }

  private readonly commands: Record<string, (args: string[]) => void> = {
    /** cluster acceptors=3 proposers=p1,p2 [commands-max=N] */
    cluster: (args) => {
      const options = keyValues(args);
      const count = Number(options.acceptors ?? 3);
      this.quorum = quorumOf(count);
      const names = Array.from({ length: count }, (_, i) => `a${i}`);
      for (const name of names) {
        const storage = new MemoryStorage();
        this.acceptors.set(name, { storage, replica: new Replica(storage) });
      }
      for (const name of (options.proposers ?? "p1").split(",")) {
        const proposer = new Proposer<Mutation, MutationOutcome>({
          id: name,
          acceptors: names,
          // Jitter halfway: the backoff after the nth lost duel is 20 * 2^n / 2 ms, easy to tick past.
          random: () => 0.5,
          pack: encodeBatch,
          sizeOf: encodedSize,
          batchCommandsMax: batchMutationsMax,
          batchBytesMax,
          retryMs,
          backoffMs: 20,
          backoffMsMax: 1000,
          commandsMax: options["commands-max"] === undefined ? undefined : Number(options["commands-max"]),
        });
        this.proposers.set(name, { proposer, now: 0, nextMutation: 1, syncs: new Map() });
      }
      this.print(
        `acceptors ${names.join(" ")} (quorum ${this.quorum}); proposers ${[...this.proposers.keys()].join(" ")}`,
      );
    },
    /** propose p1 set /a 0 x | propose p1 del /a 3 | propose p1 nop, each with an optional timeout=ms */
    propose: ([name = "", op, ...rest]) => {
      const node = this.proposer(name);
      const options = keyValues(rest.filter((a) => a.includes("=")));
      const [path = "", rev = "0", value = ""] = rest.filter((a) => !a.includes("="));
      const id = `${name}.${node.nextMutation++}`;
      const mutation: Mutation =
        op === "set"
          ? { op: "set", id, path, rev: Number(rev), value: new TextEncoder().encode(value) }
          : op === "del"
            ? { op: "del", id, path, rev: Number(rev) }
            : { op: "nop", id };
      const deadline = node.now + Number(options.timeout ?? timeoutMsDefault);
      this.step(name, node, () => {
        try {
          node.proposer.submit(mutation, deadline, node.now);
        } catch (error) {
          if (!(error instanceof CodedError)) throw error;
          this.print(`${name} refuses ${formatMutation(mutation)}: ${error.code}`);
        }
      });
    },
    /** sync p1 3 [timeout=ms]: every slot through 3 chosen, holes filled with no-ops */
    sync: ([name = "", through = "0", ...rest]) => {
      const node = this.proposer(name);
      const deadline = node.now + Number(keyValues(rest).timeout ?? timeoutMsDefault);
      this.step(name, node, () => {
        const token = node.proposer.sync(Number(through), deadline, node.now);
        node.syncs.set(token, Number(through));
      });
    },
    /** tick p1 400: p1's clock moves on; `tick 400` moves every proposer's */
    tick: (args) => {
      const ms = Number(args.at(-1));
      const names = args.length > 1 ? args.slice(0, -1) : [...this.proposers.keys()];
      for (const name of names) {
        const node = this.proposer(name);
        node.now += ms;
        this.print(`${name} at t=${node.now}`);
        this.step(name, node, () => node.proposer.tick(node.now), "  ");
      }
    },
    /** deliver [from->to] [count]: the messages waiting on matching links, oldest first; `*` matches any node */
    deliver: (args) => {
      const { match, count } = linkArgs(args);
      const batch = this.network.filter(match).slice(0, count);
      this.network = this.network.filter((e) => !batch.includes(e));
      for (const envelope of batch) this.deliver(envelope);
    },
    /** drop [from->to] [count] */
    drop: (args) => {
      const { match, count } = linkArgs(args);
      const batch = this.network.filter(match).slice(0, count);
      this.network = this.network.filter((e) => !batch.includes(e));
      for (const envelope of batch) this.print(`dropped ${formatEnvelope(envelope)}`);
    },
    /** stabilize: deliver everything, and what that sends, until no message waits */
    stabilize: () => {
      for (let round = 0; this.network.length > 0; round++) {
        if (round >= stabilizeRoundsMax) throw new Error(`not stable after ${stabilizeRoundsMax} rounds`);
        const batch = this.network;
        this.network = [];
        for (const envelope of batch) this.deliver(envelope);
      }
    },
    crash: ([name = ""]) => {
      const node = this.acceptor(name);
      node.replica = undefined;
      this.print(`${name} crashes; its storage survives`);
    },
    restart: ([name = ""]) => {
      const node = this.acceptor(name);
      node.replica = new Replica(node.storage);
      this.print(`${name} restarts: ${formatReplica(node.replica)}`);
    },
    /** fetch a1 a0: a1 asks a0 for the chosen slots it knows it lacks */
    fetch: ([name = "", peer = ""]) => {
      const missing = this.acceptor(name).replica?.missing();
      this.acceptor(peer);
      if (missing) this.send(name, peer, { kind: "fetch", message: missing }, "");
      else this.print(`${name} lacks nothing it knows of`);
    },
    status: () => {
      for (const [name, node] of this.acceptors) {
        this.print(`${name} ${node.replica ? formatReplica(node.replica) : "down"}`);
      }
      for (const [name, node] of this.proposers) {
        const { proposer } = node;
        const ballot = proposer.currentBallot ? ` at ${formatBallot(proposer.currentBallot)}` : "";
        const next = proposer.nextDeadline();
        this.print(
          `${name} ${proposer.phase}${ballot}, t=${node.now}, ${proposer.pendingCount} waiting, next deadline ${next === undefined ? "none" : `t=${next}`}`,
        );
      }
      const chosen = [...this.chosen.keys()].sort((a, b) => a - b);
      this.print(
        `chosen: ${chosen.length === 0 ? "none" : chosen.map((s) => `${s}: ${this.chosenValue(s)}`).join(", ")}`,
      );
      if (this.network.length === 0) this.print("no message waits");
      for (const envelope of this.network) this.print(`waits: ${formatEnvelope(envelope)}`);
    },
  };

  private deliver(envelope: Envelope): void {
    this.print(formatEnvelope(envelope));
    const { payload, from, to } = envelope;
    if (payload.kind === "to-proposer") {
      const node = this.proposer(to);
      this.step(to, node, () => node.proposer.receive(from, payload.reply, node.now), "  ");
      return;
    }
    const acceptor = this.acceptor(to);
    const replica = acceptor.replica;
    if (!replica) {
      this.print(`  ${to} is down: lost`);
      return;
    }
    const appliedBefore = replica.chosenThrough;
    switch (payload.kind) {
      case "to-acceptor": {
        const chosenBefore = this.chosen.size;
        const reply = this.handle(to, replica, payload.message);
        this.send(to, from, { kind: "to-proposer", reply }, "  ");
        for (const [slot, value] of [...this.chosen].slice(chosenBefore))
          this.print(`  ** slot ${slot} is chosen: ${formatValue(value)}`);
        break;
      }
      case "fetch":
        this.send(to, from, { kind: "fetched", message: replica.fetch(payload.message) }, "  ");
        break;
      case "fetched":
        replica.learn(payload.message.entries);
        break;
    }
    if (replica.chosenThrough > appliedBefore)
      this.print(`  ${to} applied through slot ${replica.chosenThrough} (rev ${replica.store.rev})`);
  }

  private handle(name: string, replica: Replica, message: ProposerMessage): AcceptorReply<MutationOutcome> {
    switch (message.type) {
      case "prepare":
        return replica.prepare(message);
      case "commit":
        return replica.commit(message);
      case "accept": {
        const reply = replica.accept(message);
        if (reply.type === "accepted")
          for (const entry of message.entries) this.vote(name, entry, message.ballot);
        return reply;
      }
    }
  }

  /** Runs one action of a proposer and prints what it sent, answered, and how its phase changed. */
  private step(name: string, node: ProposerNode, action: () => void, indent = ""): void {
    const { proposer } = node;
    const before = `${proposer.phase} ${proposer.currentBallot ? formatBallot(proposer.currentBallot) : ""}`;
    action();
    const ballot = proposer.currentBallot ? formatBallot(proposer.currentBallot) : "";
    if (`${proposer.phase} ${ballot}` !== before) {
      if (proposer.phase === "leading") this.print(`${indent}${name} leads at ${ballot}`);
      if (proposer.phase === "idle") {
        const next = proposer.nextDeadline();
        this.print(
          `${indent}${name} lost ${ballot}; backs off${next === undefined ? "" : ` until t=${next}`}`,
        );
      }
    }
    for (const { to, message } of proposer.takeMessages())
      this.send(name, to, { kind: "to-acceptor", message }, indent);
    for (const completion of proposer.takeCompletions())
      this.print(`${indent}${formatCompletion(name, node, completion)}`);
  }

  private send(from: string, to: string, payload: Payload, indent: string): void {
    const envelope = { from, to, payload };
    this.network.push(envelope);
    this.print(`${indent}${formatEnvelope(envelope)}`);
  }

  private vote(acceptor: string, entry: LogEntry, ballot: Ballot): void {
    const key = `${entry.slot}/${formatBallot(ballot)}`;
    const votes = this.votes.get(key) ?? { value: entry.value, voters: new Set<string>() };
    this.votes.set(key, votes);
    if (!bytesEqual(votes.value, entry.value))
      throw new Error(`two values for slot ${entry.slot} under ${key}`);
    votes.voters.add(acceptor);
    if (votes.voters.size < this.quorum || this.chosen.has(entry.slot)) {
      const known = this.chosen.get(entry.slot);
      if (known && !bytesEqual(known, entry.value)) throw new Error(`slot ${entry.slot} chosen twice`);
      return;
    }
    this.chosen.set(entry.slot, entry.value);
  }

  private chosenValue(slot: Slot): string {
    const value = this.chosen.get(slot);
    return value ? formatValue(value) : "?";
  }

  private proposer(name: string): ProposerNode {
    const node = this.proposers.get(name);
    if (!node) throw new Error(`no proposer "${name}"`);
    return node;
  }

  private acceptor(name: string): AcceptorNode {
    const node = this.acceptors.get(name);
    if (!node) throw new Error(`no acceptor "${name}"`);
    return node;
  }

  private print(line: string): void {
    this.out.push(line);
  }
}

function keyValues(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of args) {
    const [key = "", value = ""] = arg.split("=");
    out[key] = value;
  }
  return out;
}

function linkArgs(args: readonly string[]): { match: (e: Envelope) => boolean; count: number } {
  const link = args.find((a) => a.includes("->")) ?? "*->*";
  const countArg = args.find((a) => /^\d+$/.test(a));
  const [from, to] = link.split("->").map(wildcard);
  return {
    match: (e) => (from?.test(e.from) ?? true) && (to?.test(e.to) ?? true),
    count: countArg === undefined ? Number.POSITIVE_INFINITY : Number(countArg),
  };
}

/** `a*` matches a0, a1, ...; `*` matches any node. */
function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[^\w*]/g, "\\$&").replaceAll("*", ".*")}$`);
}

function formatEnvelope({ from, to, payload }: Envelope): string {
  return `${from}->${to} ${formatPayload(payload)}`;
}

function formatPayload(payload: Payload): string {
  switch (payload.kind) {
    case "to-acceptor":
      return formatMessage(payload.message);
    case "to-proposer":
      return formatReply(payload.reply);
    case "fetch":
      return `fetch slots ${payload.message.fromSlot}..${payload.message.toSlot}`;
    case "fetched":
      return `fetched [${payload.message.entries.map((e) => `${e.slot}: ${formatValue(e.value)}`).join(", ")}]`;
  }
}

function formatMessage(message: ProposerMessage): string {
  switch (message.type) {
    case "prepare":
      return `prepare ${formatBallot(message.ballot)} from slot ${message.fromSlot}`;
    case "accept":
      return `accept ${formatBallot(message.ballot)} [${message.entries.map((e) => `${e.slot}: ${formatValue(e.value)}`).join(", ")}]`;
    case "commit": {
      const entries = message.entries.map(
        (e) =>
          `${e.slot}@${formatBallot(e.ballot)}${e.value ? `: ${formatValue(e.value)}` : " (value held)"}`,
      );
      const outcome = message.outcomeSlot === undefined ? "" : ` outcome of ${message.outcomeSlot}?`;
      return `commit [${entries.join(", ")}]${outcome}`;
    }
  }
}

function formatReply(reply: AcceptorReply<MutationOutcome>): string {
  switch (reply.type) {
    case "promised": {
      const accepted = reply.accepted.map(
        (e) => `${e.slot}@${formatBallot(e.ballot)}: ${formatValue(e.value)}`,
      );
      return `promised ${formatBallot(reply.ballot)} chosen through ${reply.chosenThrough}, accepted [${accepted.join(", ")}]`;
    }
    case "accepted":
      return `accepted ${formatBallot(reply.ballot)} slots ${reply.slots.join(",")}`;
    case "rejected":
      return `rejected ${formatBallot(reply.ballot)}: promised ${formatBallot(reply.promised)}`;
    case "committed": {
      const outcome = reply.outcome
        ? ` outcome of ${reply.outcome.slot}: [${reply.outcome.results.map(formatOutcome).join(", ")}]`
        : "";
      return `committed, chosen through ${reply.chosenThrough}${outcome}`;
    }
  }
}

function formatCompletion(
  name: string,
  node: ProposerNode,
  completion: Completion<Mutation, MutationOutcome>,
): string {
  switch (completion.kind) {
    case "decided":
      return `${name} answers ${formatMutation(completion.command)}: ${formatOutcome(completion.result)}`;
    case "expired":
      return `${name} gives up on ${formatMutation(completion.command)}: its deadline passed`;
    case "synced":
      return `${name} synced through slot ${node.syncs.get(completion.token)}`;
    case "sync-expired":
      return `${name} gives up the sync through slot ${node.syncs.get(completion.token)}`;
  }
}

function formatOutcome(outcome: MutationOutcome): string {
  return outcome.error ? `${outcome.error.code} at rev ${outcome.rev}` : `rev ${outcome.rev}`;
}

function formatValue(value: Uint8Array): string {
  const mutations = decodeBatch(value);
  if (mutations.length === 0) return "no-op";
  const text = mutations.map(formatMutation).join("; ");
  return mutations.length === 1 ? text : `{${text}}`;
}

function formatMutation(m: Mutation): string {
  switch (m.op) {
    case "set":
      return `set ${m.path} ${m.rev} ${JSON.stringify(new TextDecoder().decode(m.value))}`;
    case "del":
      return `del ${m.path} ${m.rev}`;
    default:
      return m.op;
  }
}

function formatReplica(replica: Replica): string {
  const { promised, maxAccepted, chosenThrough, rev } = replica.status();
  const ballot = promised.round === 0 ? "nothing" : formatBallot(promised);
  return `promised ${ballot}, accepted through ${maxAccepted}, chosen through ${chosenThrough}, rev ${rev}`;
}
