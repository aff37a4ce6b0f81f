// The WAN model: what a write costs a client in each region, for a given set
// of acceptor location hints and a given write route, with no deployment.
//
// It runs the real core code, the Proposer and one Replica per acceptor (over
// MemoryStorage, with batches encoded by encodeBatch), over a simulated
// network whose one-way delay between two nodes is half the RTT of their
// regions (wan-rtt.ts), and 0 between the parts of one object (a leader
// acceptor and its own proposer). Time is virtual and every delay is fixed, so
// a run is deterministic and takes microseconds: no faults, no drops, no
// jitter (a backoff after a lost duel takes its mean), no queueing, no CPU or
// storage time.
//
// A write's latency is measured at the client: from its request leaving the
// client to the answer arriving back there.
//  - worker route: client → the Worker at its edge (same metro), whose proposer
//    sends accepts to every acceptor and waits for a majority, then commits to
//    every acceptor and answers with the first outcome a replica sends back;
//  - leader route: client → the Worker at its edge → the leader acceptor
//    (the client-region↔leader-region RTT), whose own proposer counts its own
//    vote at once and whose own replica applies the outcome at once.
// The first write of a run is cold (the proposer's phase 1 first); the later
// ones are the steady state, one accept round each (the model checks this from
// the proposer's counters).
//
// Reads are arithmetic over the matrix, not simulated (the Reader lives in
// server/, not core/), but the replica they start from is the one the code
// picks (core/replica-order.ts): see readLatencies.

import { parseClusterConfig } from "../../core/cluster-config";
import { batchBytesMax, batchMutationsMax } from "../../core/limits";
import {
  decodeBatch,
  encodeBatch,
  encodedSize,
  type Mutation,
  type MutationOutcome,
} from "../../core/mutation";
import type { AcceptorReply, LogEntry, ProposerMessage } from "../../core/paxos/messages";
import { Proposer, type ProposerStats } from "../../core/paxos/proposer";
import { hintCentre } from "../../core/regions";
import { Replica } from "../../core/replica";
import { replicaOrder } from "../../core/replica-order";
import { MemoryStorage } from "./memory-storage";
import {
  acceptorPlace,
  edgePlace,
  fiveAcceptors,
  type Hint,
  hints,
  nearbyDataCenterRttMs,
  type Place,
  placeRttMs,
  rttMs,
  sameMetroRttMs,
  threeAcceptors,
  workedQuorums,
} from "./wan-rtt";

export type WriteRoute = { kind: "worker" } | { kind: "leader"; leader: number };

export interface WriteScenario {
  acceptors: readonly Hint[];
  route: WriteRoute;
  client: Hint;
  /** Writes after the cold first one. */
  steadyWrites?: number;
}

/** One write's time, split where it goes. The parts add up to `latencyMs`. */
export interface WriteTiming {
  /** Request leaving the client → answer back at the client. */
  latencyMs: number;
  /** Client → the proposer (through the edge Worker on the leader route). */
  toProposerMs: number;
  /** Phase 1: request at the proposer → its accept sent. 0 once it holds a ballot. */
  prepareMs: number;
  /** Accept sent → a majority accepted (the commit goes out): one quorum round trip. */
  acceptMs: number;
  /** Commit sent → the first replica's outcome back at the proposer. */
  commitMs: number;
  /** The proposer → the client. */
  answerMs: number;
}

export interface WriteRun {
  cold: WriteTiming;
  /** Every steady write costs the same (no jitter); this is the last one. */
  steady: WriteTiming;
  /** Latency of each steady write, to show they are equal. */
  steadyLatenciesMs: number[];
  stats: ProposerStats;
  /** Each replica's store rev at the end: the real store applied every write. */
  revs: number[];
  /** Each replica's chosen prefix at the end: every one has every slot. */
  chosenThrough: number[];
}

interface Node {
  name: string;
  place: Place;
}

/** Time in the model, and the events waiting for it: run in time order, and in order sent at equal times. */
class VirtualNetwork {
  now = 0;
  private events: { at: number; run: () => void }[] = [];

  /** Delivers `run` at `to` after the one-way delay from `from`: half the RTT, 0 within one node. */
  send(from: Node, to: Node, run: () => void): void {
    this.at(this.now + (from === to ? 0 : placeRttMs(from.place, to.place) / 2), run);
  }

  at(time: number, run: () => void): void {
    const event = { at: Math.max(time, this.now), run };
    let i = this.events.length;
    while (i > 0) {
      const before = this.events[i - 1];
      if (!before || before.at <= event.at) break;
      i--;
    }
    this.events.splice(i, 0, event);
  }

  runUntilIdle(maxEvents: number): void {
    for (let n = 0; ; n++) {
      const event = this.events.shift();
      if (!event) return;
      if (n >= maxEvents) throw new Error(`wan: still busy after ${maxEvents} events`);
      this.now = event.at;
      event.run();
    }
  }
}

interface Marks {
  sentAt: number;
  atProposer?: number;
  acceptSent?: number;
  commitSent?: number;
  decided?: number;
  answered?: number;
}

/** A proposer and where it runs: a Worker at some edge, or inside the leader acceptor. */
interface ProposerSite {
  node: Node;
  proposer: Proposer<Mutation, MutationOutcome>;
  /** The write it is deciding (one at a time: the clients here wait for each answer). */
  current?: {
    id: string;
    marks: Marks;
    answerPath: Node[];
    done: (timing: WriteTiming, rev: number) => void;
  };
  tickTimes: Set<number>;
}

const cluster = parseClusterConfig({});

/** Acceptors at their hints, the Workers at the clients' edges, and the proposers, on one virtual network. */
class WanCluster {
  readonly net = new VirtualNetwork();
  readonly acceptors: { node: Node; replica: Replica }[];
  private readonly proposers = new Map<Node, ProposerSite>();
  private readonly edges = new Map<Hint, { client: Node; edge: Node }>();
  private lastRev = 0;
  private written = 0;

  constructor(acceptorHints: readonly Hint[]) {
    this.acceptors = acceptorHints.map((hint, i) => ({
      node: { name: `acceptor-${i}`, place: acceptorPlace(hint) },
      replica: new Replica(new MemoryStorage()),
    }));
  }

  /**
   * One write from a client in `client`: a compare-and-set on the last rev any
   * client was answered, so a wrong or reordered outcome would fail loudly.
   */
  write(client: Hint, route: WriteRoute, done: (timing: WriteTiming) => void): void {
    const { client: clientNode, edge } = this.edgeOf(client);
    let proposerNode = edge;
    if (route.kind === "leader") {
      const leader = this.acceptors[route.leader];
      if (!leader) throw new Error(`wan: no acceptor ${route.leader} to lead`);
      // The leader's proposer runs inside the leader acceptor's object: the same node, 0 ms apart.
      proposerNode = leader.node;
    }
    const site = this.proposerAt(proposerNode);
    if (site.current) throw new Error("wan: one write at a time per proposer");
    // The request goes client → edge Worker (→ leader acceptor); the answer comes back the same way.
    const path = route.kind === "worker" ? [clientNode, edge] : [clientNode, edge, proposerNode];
    const n = this.written++;
    const mutation: Mutation = {
      op: "set",
      id: `wan-${n}`,
      path: "/wan/key",
      rev: this.lastRev,
      value: new TextEncoder().encode(`write ${n} from ${client}`),
    };
    const marks: Marks = { sentAt: this.net.now };
    site.current = {
      id: mutation.id,
      marks,
      answerPath: [...path].reverse(),
      done: (timing, rev) => {
        this.lastRev = rev;
        done(timing);
      },
    };
    this.travel(path, () => {
      marks.atProposer = this.net.now;
      site.proposer.submit(mutation, this.net.now + cluster.writeTimeoutMs, this.net.now);
      this.flush(site);
    });
  }

  get proposerStats(): ProposerStats[] {
    return [...this.proposers.values()].map((p) => ({ ...p.proposer.stats }));
  }

  private edgeOf(hint: Hint): { client: Node; edge: Node } {
    let pair = this.edges.get(hint);
    if (!pair) {
      pair = {
        client: { name: `client-${hint}`, place: edgePlace(hint) },
        edge: { name: `edge-${hint}`, place: edgePlace(hint) },
      };
      this.edges.set(hint, pair);
    }
    return pair;
  }

  private proposerAt(node: Node): ProposerSite {
    let site = this.proposers.get(node);
    if (!site) {
      const proposer = new Proposer<Mutation, MutationOutcome>({
        id: `proposer-at-${node.name}`,
        acceptors: this.acceptors.map((a) => a.node.name),
        // Backoff after a lost duel is uniform in [0, limit): the model takes its mean.
        random: () => 0.5,
        pack: encodeBatch,
        sizeOf: encodedSize,
        batchCommandsMax: batchMutationsMax,
        batchBytesMax,
        // As worker/proposer-driver.ts sets them.
        retryMs: cluster.retryMs,
        backoffMs: 20,
        backoffMsMax: 1000,
      });
      site = { node, proposer, tickTimes: new Set() };
      this.proposers.set(node, site);
    }
    return site;
  }

  /** Sends what the proposer wants sent, hands its completions back, and wakes it for its next timer. */
  private flush(site: ProposerSite): void {
    const { net } = this;
    const current = site.current;
    for (const { to, message } of site.proposer.takeMessages()) {
      if (current) markProgress(current.marks, current.id, message, net.now);
      const acceptor = this.acceptors.find((a) => a.node.name === to);
      if (!acceptor) throw new Error(`wan: message to unknown ${to}`);
      net.send(site.node, acceptor.node, () => {
        const reply = answer(acceptor.replica, message);
        if (acceptor.replica.missing()) throw new Error(`wan: ${to} fell behind, which takes a fault`);
        net.send(acceptor.node, site.node, () => {
          site.proposer.receive(to, reply, net.now);
          this.flush(site);
        });
      });
    }
    for (const completion of site.proposer.takeCompletions()) {
      if (completion.kind !== "decided" || !current)
        throw new Error(`wan: unexpected completion ${completion.kind}`);
      const { result } = completion;
      if (result.error) throw new Error(`wan: write failed: ${result.error.message}`);
      site.current = undefined;
      current.marks.decided = net.now;
      this.travel(current.answerPath, () => {
        current.marks.answered = net.now;
        current.done(timing(current.marks), result.rev);
      });
    }
    const next = site.proposer.nextDeadline();
    if (next !== undefined && !site.tickTimes.has(next)) {
      site.tickTimes.add(next);
      net.at(next, () => {
        site.tickTimes.delete(next);
        site.proposer.tick(net.now);
        this.flush(site);
      });
    }
  }

  /** Hop by hop along `nodes`, then `arrive`. */
  private travel(nodes: readonly Node[], arrive: () => void, from = 0): void {
    const here = nodes[from];
    const next = nodes[from + 1];
    if (!here || !next) {
      arrive();
      return;
    }
    this.net.send(here, next, () => this.travel(nodes, arrive, from + 1));
  }
}

/** Runs `1 + steadyWrites` writes from one client, one after the other, and times each. */
export function simulateWrites(scenario: WriteScenario): WriteRun {
  const steadyWrites = scenario.steadyWrites ?? 3;
  const wan = new WanCluster(scenario.acceptors);
  const timings: WriteTiming[] = [];
  const next = (): void =>
    wan.write(scenario.client, scenario.route, (t) => {
      timings.push(t);
      if (timings.length <= steadyWrites) next();
    });
  next();
  wan.net.runUntilIdle(100_000);
  const cold = timings[0];
  const steady = timings.at(-1);
  const stats = wan.proposerStats[0];
  if (!cold || !steady || !stats || timings.length !== steadyWrites + 1)
    throw new Error("wan: writes went missing");
  return {
    cold,
    steady,
    steadyLatenciesMs: timings.slice(1).map((t) => t.latencyMs),
    stats,
    revs: wan.acceptors.map((a) => a.replica.store.rev),
    chosenThrough: wan.acceptors.map((a) => a.replica.chosenThrough),
  };
}

/**
 * The worker route with writers everywhere: a client in each region writes in
 * turn (wnam, enam, … me, then again), each through its own edge Worker, one
 * write at a time. Each write's proposer finds its ballot taken by the writer
 * before it, so it is rejected, backs off (the mean of its jitter), and runs
 * phase 1 again. Returns the latency of each region's write in the last turn.
 */
export function simulateTakingTurns(acceptorHints: readonly Hint[], turns = 3): Map<Hint, WriteTiming> {
  const wan = new WanCluster(acceptorHints);
  const last = new Map<Hint, WriteTiming>();
  const order = Array.from({ length: turns }, () => hints).flat();
  const next = (i: number): void => {
    const client = order[i];
    if (!client) return;
    wan.write(client, { kind: "worker" }, (t) => {
      last.set(client, t);
      next(i + 1);
    });
  };
  next(0);
  wan.net.runUntilIdle(1_000_000);
  if (last.size !== hints.length) throw new Error("wan: a region's writes went missing");
  return last;
}

function answer(replica: Replica, message: ProposerMessage): AcceptorReply<MutationOutcome> {
  switch (message.type) {
    case "prepare":
      return replica.prepare(message);
    case "accept":
      return replica.accept(message);
    case "commit":
      return replica.commit(message);
  }
}

/** Notes when the message that starts each part of a write's time leaves the proposer. */
function markProgress(marks: Marks, id: string, message: ProposerMessage, now: number): void {
  switch (message.type) {
    case "prepare":
      // A prepare after an accept means that accept lost to a higher ballot: time the next one.
      marks.acceptSent = undefined;
      break;
    case "accept":
      // The accept that carries this write (phase 1 may first re-propose slots another proposer left).
      if (carries(message.entries, id)) marks.acceptSent ??= now;
      break;
    case "commit":
      // Only the commit of the slot that carries commands asks for their outcome.
      if (message.outcomeSlot !== undefined) marks.commitSent ??= now;
      break;
  }
}

function carries(entries: readonly LogEntry[], id: string): boolean {
  return entries.some((e) => decodeBatch(e.value).some((m) => m.id === id));
}

function timing(m: Marks): WriteTiming {
  const { sentAt, atProposer, acceptSent, commitSent, decided, answered } = m;
  if (
    atProposer === undefined ||
    acceptSent === undefined ||
    commitSent === undefined ||
    decided === undefined ||
    answered === undefined
  )
    throw new Error("wan: a write was not answered");
  return {
    latencyMs: answered - sentAt,
    toProposerMs: atProposer - sentAt,
    prepareMs: acceptSent - atProposer,
    acceptMs: commitSent - acceptSent,
    commitMs: decided - commitSent,
    answerMs: answered - decided,
  };
}

// ---- Reads: arithmetic over the matrix ----

export interface ReadLatency {
  /**
   * Worker route, linearizable: the status round to every acceptor (wait for a
   * majority) and the read at the preferred replica go out together, so it
   * costs the slower of the two, plus the client↔edge hop. The preferred
   * replica is the nearest by round trip, as the reader has it once it has
   * measured them (it prefers the nearest replica that was up to date).
   */
  linearizableMs: number;
  /** One replica, the nearest by round trip, no status round, plus the client↔edge hop. */
  staleMs: number;
  /** The replica nearest the client's edge by round trip. */
  nearest: Hint;
  /**
   * A fresh isolate's first reads, before it has measured any round trip: the
   * reader starts from the acceptor nearest to the caller's location
   * (core/replica-order.ts, from the centre of the client's region), which may
   * not be the nearest by round trip.
   */
  firstByLocation: Hint;
  staleByLocationMs: number;
  linearizableByLocationMs: number;
}

export function readLatencies(acceptorHints: readonly Hint[], client: Hint): ReadLatency {
  const edge = edgePlace(client);
  const rtts = acceptorHints.map((hint) => ({ hint, ms: placeRttMs(edge, acceptorPlace(hint)) }));
  const sorted = [...rtts].sort((a, b) => a.ms - b.ms);
  const majority = Math.floor(acceptorHints.length / 2) + 1;
  const nearest = sorted[0];
  const quorum = sorted[majority - 1];
  // The cluster as the code configures it: acceptor-i at the i-th hint.
  const acceptors = acceptorHints.map((location, i) => ({ name: `acceptor-${i}`, location }));
  const firstName = replicaOrder(acceptors, new Map(), hintCentre(client))[0];
  const first = rtts[acceptors.findIndex((a) => a.name === firstName)];
  if (!nearest || !quorum || !first) throw new Error("wan: no acceptors");
  return {
    linearizableMs: sameMetroRttMs + Math.max(quorum.ms, nearest.ms),
    staleMs: sameMetroRttMs + nearest.ms,
    nearest: nearest.hint,
    firstByLocation: first.hint,
    staleByLocationMs: sameMetroRttMs + first.ms,
    linearizableByLocationMs: sameMetroRttMs + Math.max(quorum.ms, first.ms),
  };
}

// ---- The report: the tables bench/wan.ts prints and docs/WAN-MODEL.md holds ----

export interface RouteColumn {
  label: string;
  route: WriteRoute;
}

export function routeColumns(acceptorHints: readonly Hint[]): RouteColumn[] {
  return [
    { label: "worker", route: { kind: "worker" } },
    ...acceptorHints.map((hint, leader) => ({
      label: `leader ${hint}`,
      route: { kind: "leader", leader } as const,
    })),
  ];
}

export interface ClusterResults {
  acceptors: readonly Hint[];
  columns: RouteColumn[];
  /** runs[client][column] */
  runs: Map<Hint, WriteRun[]>;
}

export function runCluster(acceptorHints: readonly Hint[]): ClusterResults {
  const columns = routeColumns(acceptorHints);
  const runs = new Map<Hint, WriteRun[]>();
  for (const client of hints) {
    runs.set(
      client,
      columns.map(({ route }) => simulateWrites({ acceptors: acceptorHints, route, client })),
    );
  }
  return { acceptors: acceptorHints, columns, runs };
}

const ms = (n: number): string => (Number.isInteger(n) ? `${n}` : n.toFixed(1));

/** A markdown table of one figure per (client, route), the best of each row and of the mean in bold. */
function latencyTable(results: ClusterResults, pick: (run: WriteRun) => number): string {
  const { columns, runs } = results;
  const lines = [
    `| client | ${columns.map((c) => c.label).join(" | ")} | best |`,
    `|---|${columns.map(() => "---:|").join("")}---|`,
  ];
  const sums = columns.map(() => 0);
  const bestRow = (values: number[]): { cells: string[]; best: string } => {
    const low = Math.min(...values);
    const winners = columns.filter((_, i) => values[i] === low).map((c) => c.label);
    return {
      cells: values.map((v) => (v === low ? `**${ms(v)}**` : ms(v))),
      best: winners.join(", "),
    };
  };
  for (const client of hints) {
    const values = (runs.get(client) ?? []).map(pick);
    values.forEach((v, i) => {
      sums[i] = (sums[i] ?? 0) + v;
    });
    const { cells, best } = bestRow(values);
    lines.push(`| ${client} | ${cells.join(" | ")} | ${best} |`);
  }
  const means = sums.map((s) => Math.round((s / hints.length) * 10) / 10);
  const { cells, best } = bestRow(means);
  lines.push(`| **mean** | ${cells.join(" | ")} | ${best} |`);
  return lines.join("\n");
}

function readTable(acceptorHints: readonly Hint[], results: ClusterResults): string {
  const lines = [
    "| client | nearest replica | stale read | linearizable read | best write (steady) | first replica of a fresh isolate | its stale read | its linearizable read |",
    "|---|---|---:|---:|---:|---|---:|---:|",
  ];
  for (const client of hints) {
    const r = readLatencies(acceptorHints, client);
    const bestWrite = Math.min(...(results.runs.get(client) ?? []).map((run) => run.steady.latencyMs));
    lines.push(
      `| ${client} | ${r.nearest} | ${ms(r.staleMs)} | ${ms(r.linearizableMs)} | ${ms(bestWrite)} | ${r.firstByLocation} | ${ms(r.staleByLocationMs)} | ${ms(r.linearizableByLocationMs)} |`,
    );
  }
  return lines.join("\n");
}

/** The simulated accept round against WAN-RTT.md §6, and the worker route's commit round. */
function crossCheckTable(results: ClusterResults): string {
  const worked = workedQuorums.find((w) => w.acceptors.join() === results.acceptors.join());
  const lines = [
    "| proposer at | route | §6 quorum RTT | simulated accept round | simulated commit round | steady write at the client |",
    "|---|---|---:|---:|---:|---:|",
  ];
  results.columns.forEach((column, i) => {
    if (column.route.kind !== "leader") return;
    const hint = results.acceptors[column.route.leader];
    const run = hint && results.runs.get(hint)?.[i];
    if (!hint || !run) return;
    lines.push(
      `| ${hint} | leader | ${worked?.coLocated[hint] ?? "—"} | ${ms(run.steady.acceptMs)} | ${ms(run.steady.commitMs)} | ${ms(run.steady.latencyMs)} |`,
    );
  });
  for (const client of hints) {
    const run = results.runs.get(client)?.[0];
    if (!run) continue;
    const expected = worked?.coLocated[client] ?? worked?.elsewhere[client];
    lines.push(
      `| ${client} | worker | ${expected ?? "—"} | ${ms(run.steady.acceptMs)} | ${ms(run.steady.commitMs)} | ${ms(run.steady.latencyMs)} |`,
    );
  }
  return lines.join("\n");
}

/** The worker route with one writing region against writers in every region taking turns. */
function turnsTable(results: ClusterResults): string {
  const turns = simulateTakingTurns(results.acceptors);
  const lines = [
    "| client | one writing region (steady) | every region writes in turn | of which before the accept (lost duel, backoff, phase 1) |",
    "|---|---:|---:|---:|",
  ];
  let single = 0;
  let shared = 0;
  for (const client of hints) {
    const alone = results.runs.get(client)?.[0]?.steady.latencyMs ?? Number.NaN;
    const turn = turns.get(client);
    if (!turn) continue;
    single += alone;
    shared += turn.latencyMs;
    lines.push(`| ${client} | ${ms(alone)} | ${ms(turn.latencyMs)} | ${ms(turn.prepareMs)} |`);
  }
  const mean = (sum: number) => ms(Math.round((sum / hints.length) * 10) / 10);
  lines.push(`| **mean** | ${mean(single)} | ${mean(shared)} | |`);
  return lines.join("\n");
}

function clusterSection(title: string, acceptorHints: readonly Hint[]): string {
  const results = runCluster(acceptorHints);
  const majority = Math.floor(acceptorHints.length / 2) + 1;
  return [
    `### ${title}: ${acceptorHints.join(", ")} (majority ${majority})`,
    "",
    "Steady-state write latency (ms), request leaving the client to the answer back at the client.",
    "Columns: the worker route, then the leader route with the leader at each acceptor. Bold: the best of the row.",
    "",
    latencyTable(results, (run) => run.steady.latencyMs),
    "",
    "Cold first write (ms): the same, when the proposer must run phase 1 first.",
    "",
    latencyTable(results, (run) => run.cold.latencyMs),
    "",
    "Worker route with writers in every region (ms): clients write one at a time, in turn, each through",
    "its own edge Worker, so each write's proposer has lost its ballot to the previous writer. The leader",
    "route has one proposer, so its figures above hold however many regions write.",
    "",
    turnsTable(results),
    "",
    "Reads (ms), worker route, arithmetic over the matrix: a stale read asks one replica; a linearizable",
    "read sends the status round (majority) and the read at the preferred replica together. The first",
    "columns: the nearest replica by round trip, as the reader picks once it has measured them; the last",
    "three: a fresh isolate's first reads, from the acceptor nearest to the client's location.",
    "",
    readTable(acceptorHints, results),
    "",
    "Cross-check against WAN-RTT.md §6 (ms): the simulated accept round is the proposer's own clock from its",
    "accept leaving to a majority's answers; the commit round is from its commit leaving to the first outcome.",
    "",
    crossCheckTable(results),
  ].join("\n");
}

/** The §2 matrix as the model uses it. */
function matrixTable(): string {
  const lines = [`| | ${hints.join(" | ")} |`, `|---|${hints.map(() => "---:|").join("")}`];
  for (const a of hints)
    lines.push(`| **${a}** | ${hints.map((b) => (a === b ? "—" : rttMs(a, b))).join(" | ")} |`);
  return lines.join("\n");
}

/** Every table, as markdown. Deterministic: the same text on every run. */
export function wanReport(): string {
  return [
    "### The RTT matrix (P50, ms)",
    "",
    `Within one region: ${sameMetroRttMs} ms between two nodes of one metro, ${nearbyDataCenterRttMs} ms between an acceptor`,
    "moved there from sam, afr or me and one hinted there; 0 ms within one object (the leader and its own acceptor).",
    "",
    matrixTable(),
    "",
    clusterSection("Five acceptors", fiveAcceptors),
    "",
    clusterSection("Three acceptors", threeAcceptors),
  ].join("\n");
}

/** docs/WAN-MODEL.md holds the report between these two lines; bench/wan.ts --write puts it there. */
export const reportBegin =
  "<!-- wan-model:begin (written by bench/wan.ts --write; edit the model, not this) -->";
export const reportEnd = "<!-- wan-model:end -->";

/** `doc` with the text between the report markers replaced by `report`. */
export function withReport(doc: string, report: string): string {
  const begin = doc.indexOf(reportBegin);
  const end = doc.indexOf(reportEnd);
  if (begin < 0 || end < begin) throw new Error("wan: the document has no report markers");
  return `${doc.slice(0, begin + reportBegin.length)}\n\n${report}\n\n${doc.slice(end)}`;
}
