// A linearizability checker for histories of SET, DEL and GET (see README.md).
//
// The search is Wing & Gong's, with Lowe's cache, as Porcupine runs it: walk
// the history's calls and answers in time order; linearize any operation whose
// call comes before the earliest answer still pending, if the model accepts
// its answer; when nothing fits before that answer, undo the last choice and
// try the next one. A cache of (operations linearized, model state) cuts every
// branch already explored.
//
// Writes of unknown outcome may take effect at any time after their call, or
// never: they have no answer that forces them in, and the search spends one
// only where some answer needs it. Most of the code below keeps them from
// multiplying the work: leaving out those no answer can depend on, treating
// alike those that have the same effect, and a cache that knows a
// configuration with fewer of them spent covers one with more.
//
// The store is checked one file at a time (files are independent in the
// model: P-compositionality), plus one pass over all files for what couples
// them: the global rev counter.

import type { History, HistoryEntry, Operation, OperationResult } from "./history";
import { describeFile, initialKeyState, type KeyState, step } from "./model";

export interface CheckOptions {
  /**
   * Candidates the search may try (one model step each), over all files,
   * before it gives up with `ok: "unknown"`. A step takes about a microsecond.
   */
  maxSteps?: number;
}

export const defaultMaxSteps = 2_000_000;

export interface CheckSuccess {
  ok: true;
  /** Files checked; operations considered (ok ones and the unknown writes that could matter); steps taken. */
  keys: number;
  operations: number;
  steps: number;
}

export interface CheckFailure {
  ok: false;
  /** The file whose history has no linearization; absent when the revs of several files disagree. */
  key?: string;
  explanation: string;
  /** The operations the explanation names, in the order it names them. */
  operations: HistoryEntry[];
}

/** The search ran out of steps: the history is neither proven linearizable nor shown not to be. */
export interface CheckUndecided {
  ok: "unknown";
  reason: string;
}

export type CheckResult = CheckSuccess | CheckFailure | CheckUndecided;

/** Checks a history; throws on a malformed one (a bug of the recorder, not of the store). */
export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  history.forEach(validateEntry);
  const revsFailure = checkRevsAcrossKeys(history) ?? checkFileRevsNeverGoBack(history);
  if (revsFailure !== undefined) return revsFailure;
  const maxSteps = options.maxSteps ?? defaultMaxSteps;
  const budget = { stepsLeft: maxSteps };
  const byKey = groupByPath(history);
  let operations = 0;
  for (const [path, entries] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const verdict = checkKey(path, entries, budget);
    if (verdict.ok !== true) return verdict;
    operations += verdict.operations;
  }
  return { ok: true, keys: byKey.size, operations, steps: maxSteps - budget.stepsLeft };
}

// ---------------------------------------------------------------------------
// Well-formedness

function validateEntry(entry: HistoryEntry, index: number): void {
  const fail = (why: string): never => {
    throw new Error(`malformed history entry ${index} (${JSON.stringify(entry)}): ${why}`);
  };
  const { op, outcome, result } = entry;
  if (!Number.isFinite(entry.invoke)) fail("invoke is not a finite number");
  if (typeof op.path !== "string") fail("the path is not a string");
  if (op.kind === "set" && typeof op.value !== "string") fail("the value is not a string");
  if (op.kind !== "get" && !Number.isSafeInteger(op.rev)) fail("the expected rev is not an integer");
  if (outcome === "unknown") return; // any completion time or result is ignored: it never answered
  if (entry.complete !== undefined && !(entry.complete >= entry.invoke))
    fail("it completed before it started");
  if (outcome === "fail") return;
  if (outcome !== "ok") fail(`unknown outcome ${String(outcome)}`);
  if (entry.complete === undefined) fail("an ok operation without a completion time");
  if (result === undefined) fail("an ok operation without a result");
  else if (!resultFitsOperation(op, result)) fail(`a ${op.kind} cannot answer that`);
}

function resultFitsOperation(op: Operation, result: OperationResult): boolean {
  const revs = [result.rev, "storeRev" in result ? result.storeRev : undefined];
  if (!revs.every((rev) => rev === undefined || Number.isSafeInteger(rev))) return false;
  if (op.kind === "get") {
    if ("error" in result) return result.error === "NOENT" && (result.rev ?? 0) === 0;
    return "value" in result && typeof result.value === "string";
  }
  if ("error" in result) return result.error === "REV_MISMATCH";
  return !("value" in result) && result.rev !== undefined;
}

function groupByPath(history: History): Map<string, HistoryEntry[]> {
  const byPath = new Map<string, HistoryEntry[]>();
  for (const entry of history) {
    const entries = byPath.get(entry.op.path);
    if (entries === undefined) byPath.set(entry.op.path, [entry]);
    else entries.push(entry);
  }
  return byPath;
}

// ---------------------------------------------------------------------------
// Revs across files. The per-file search sees only its file's revs, so the
// global counter is checked here: each rev is consumed once, and an operation
// that started after another one finished is at a later point of the store's
// history, hence at a rev at least as high (strictly higher if it consumed one).
// Necessary conditions only: passing this and every per-file search does not
// prove that one order fits all files at once.

/** The rev an answer says it consumed: a write's rev, or a failed write's storeRev. */
function consumedRev(entry: HistoryEntry): number | undefined {
  const result = entry.result;
  if (entry.outcome !== "ok" || result === undefined || entry.op.kind === "get") return undefined;
  if ("error" in result) return result.storeRev;
  return result.rev;
}

/** The lowest store rev at which an answer could have been given: every rev it mentions. */
function lowestPoint(entry: HistoryEntry): number {
  const result = entry.result;
  if (entry.outcome !== "ok" || result === undefined) return 0;
  const storeRev = "storeRev" in result ? (result.storeRev ?? 0) : 0;
  return Math.max(result.rev ?? 0, storeRev);
}

/** The store rev an answer pins its operation to, if any, and whether later revs must be strictly above it. */
function exactPoint(entry: HistoryEntry): { rev: number; consumed: boolean } | undefined {
  const consumed = consumedRev(entry);
  if (consumed !== undefined) return { rev: consumed, consumed: true };
  const result = entry.result;
  if (entry.outcome !== "ok" || result === undefined || !("storeRev" in result)) return undefined;
  return result.storeRev === undefined ? undefined : { rev: result.storeRev, consumed: false };
}

function checkRevsAcrossKeys(history: History): CheckFailure | undefined {
  const consumers = new Map<number, HistoryEntry>();
  for (const entry of history) {
    const rev = consumedRev(entry);
    if (rev === undefined) continue;
    const earlier = consumers.get(rev);
    if (earlier !== undefined) {
      return {
        ok: false,
        explanation: `rev ${rev} was consumed twice:\n  ${describeEntry(earlier)}\n  ${describeEntry(entry)}`,
        operations: [earlier, entry],
      };
    }
    consumers.set(rev, entry);
  }
  return checkRevsFollowRealTime(history);
}

function checkRevsFollowRealTime(history: History): CheckFailure | undefined {
  const finished = history
    .filter((entry) => entry.outcome === "ok" && entry.complete !== undefined)
    .sort((a, b) => (a.complete ?? 0) - (b.complete ?? 0));
  const started = history
    .filter((entry) => exactPoint(entry) !== undefined)
    .sort((a, b) => a.invoke - b.invoke);
  // Sweep: for each operation in invocation order, the highest rev among those finished before it started.
  let highest: HistoryEntry | undefined;
  let highestRev = 0;
  let nextFinished = 0;
  for (const later of started) {
    for (; nextFinished < finished.length; nextFinished++) {
      const earlier = finished[nextFinished];
      if (earlier === undefined || (earlier.complete ?? 0) >= later.invoke) break;
      const rev = lowestPoint(earlier);
      if (rev > highestRev) [highest, highestRev] = [earlier, rev];
    }
    const point = exactPoint(later);
    if (highest === undefined || point === undefined) continue;
    if (point.rev > highestRev || (!point.consumed && point.rev === highestRev)) continue;
    const what = point.consumed ? `consumed rev ${point.rev}` : `was read at rev ${point.rev}`;
    return {
      ok: false,
      explanation:
        `revs go backwards in real time: the first operation finished before the second started, ` +
        `yet the second ${what}, not above rev ${highestRev} of the first:\n` +
        `  ${describeEntry(highest)}\n  ${describeEntry(later)}`,
      operations: [highest, later],
    };
  }
  return undefined;
}

/**
 * A file's rev, once shown, never comes back: later writes consume higher revs,
 * and a deleted file that comes back does so at a higher rev. So an answer
 * showing a file's rev (a GET of a value, a REV_MISMATCH) cannot show one below
 * a rev that an operation on the same file, finished before it started, had
 * shown or consumed. The search would find these too; this finds the common
 * stale reads and lost writes at once, with the two operations as the
 * explanation, however long the history.
 */
function checkFileRevsNeverGoBack(history: History): CheckFailure | undefined {
  for (const entries of groupByPath(history).values()) {
    const finished = entries
      .filter((entry) => fileRevFloor(entry) !== undefined)
      .sort((a, b) => (a.complete ?? 0) - (b.complete ?? 0));
    const started = entries
      .filter((entry) => shownFileRev(entry) !== undefined)
      .sort((a, b) => a.invoke - b.invoke);
    let highest: HistoryEntry | undefined;
    let highestRev = 0;
    let nextFinished = 0;
    for (const later of started) {
      for (; nextFinished < finished.length; nextFinished++) {
        const earlier = finished[nextFinished];
        if (earlier === undefined || (earlier.complete ?? 0) >= later.invoke) break;
        const rev = fileRevFloor(earlier) ?? 0;
        if (rev > highestRev) [highest, highestRev] = [earlier, rev];
      }
      const shown = shownFileRev(later) ?? 0;
      if (highest === undefined || shown >= highestRev) continue;
      return {
        ok: false,
        key: later.op.path,
        explanation:
          `${later.op.path}: a file rev went back in real time: the first operation finished before the ` +
          `second started, yet the second shows file rev ${shown}, below rev ${highestRev} of the first:\n` +
          `  ${describeEntry(highest)}\n  ${describeEntry(later)}`,
        operations: [highest, later],
      };
    }
  }
  return undefined;
}

/** The rev below which the file's rev can no longer be, once this answer was given. */
function fileRevFloor(entry: HistoryEntry): number | undefined {
  const result = entry.result;
  if (entry.outcome !== "ok" || result === undefined) return undefined;
  if ("error" in result) return result.error === "REV_MISMATCH" ? result.rev : undefined;
  return result.rev; // a write's rev, or the rev a GET showed
}

/** The file rev an answer shows, when the file existed. */
function shownFileRev(entry: HistoryEntry): number | undefined {
  const result = entry.result;
  if (entry.outcome !== "ok" || result === undefined) return undefined;
  const shows = "value" in result || ("error" in result && result.error === "REV_MISMATCH");
  return shows && result.rev !== undefined && result.rev > 0 ? result.rev : undefined;
}

// ---------------------------------------------------------------------------
// One file: choosing which operations the search must place.

/**
 * An operation the search places. `required` ones must be linearized before
 * their `deadline`: ok operations by their answer; the others are unknown
 * writes that may be linearized at any time after their call, or never.
 * `modelled` is the entry as the model sees it (see `blindToValue`).
 */
interface SearchOperation {
  entry: HistoryEntry;
  modelled: HistoryEntry;
  required: boolean;
  deadline: number;
}

/**
 * The ok operations, and the unknown writes that could matter. A `fail` never
 * took effect, and a get of unknown outcome says nothing. Each unknown write
 * kept multiplies what the search may try, so:
 * - an unknown SET whose value was read, and written by no other SET, must
 *   have taken effect before the first such read finished: it is required,
 *   with that deadline;
 * - other unknown writes that no answer could depend on are left out (as if
 *   they never took effect, which is always allowed). An unknown SET only
 *   matters if a later-finishing GET returned its value, or a REV_MISMATCH
 *   reported a rev that no ok SET or GET explains: taking effect otherwise only
 *   raises the file's rev and uses a rev, which never helps a later check
 *   pass. An unknown DEL only matters if something later could need the file
 *   gone: a NOENT, a write with a rev check (0 creates only), a REV_MISMATCH
 *   reporting rev 0, or an unknown write with a rev check that is kept.
 */
function selectOperations(entries: HistoryEntry[]): SearchOperation[] {
  const known = entries.filter((entry) => entry.outcome === "ok");
  const unknownWrites = entries.filter((entry) => entry.outcome === "unknown" && entry.op.kind !== "get");
  const setMatters = unknownSetMatters(known);
  const writersOfValue = countWritersOfValues(entries);
  const optional: HistoryEntry[] = [];
  const required: HistoryEntry[] = [];
  const deadlines = new Map<HistoryEntry, number>();
  for (const entry of unknownWrites) {
    if (entry.op.kind !== "set" || !setMatters(entry)) continue;
    const firstRead = setMatters.firstReadOf(entry);
    if (firstRead !== undefined && writersOfValue.get(entry.op.value) === 1) {
      required.push(entry);
      deadlines.set(entry, firstRead);
    } else {
      optional.push(entry);
    }
  }
  // A DEL expecting rev 0 (or below -1) can only succeed on a missing file, where it changes nothing.
  const unknownDels = unknownWrites.filter(
    (entry) => entry.op.kind === "del" && (entry.op.rev === -1 || entry.op.rev > 0),
  );
  const hasRevCheck = (entry: HistoryEntry) => entry.op.kind !== "get" && entry.op.rev !== -1;
  let latestNeedForGone = Number.NEGATIVE_INFINITY;
  for (const entry of known) {
    if (needsFileGone(entry)) latestNeedForGone = Math.max(latestNeedForGone, entry.complete ?? 0);
  }
  if ([...required, ...optional, ...unknownDels].some(hasRevCheck))
    latestNeedForGone = Number.POSITIVE_INFINITY;
  optional.push(...unknownDels.filter((entry) => latestNeedForGone >= entry.invoke));
  const modelled = blindToValue(known, optional);
  return [
    ...known.map((entry) => ({ entry, modelled: entry, required: true, deadline: entry.complete ?? 0 })),
    ...required.map((entry) => ({
      entry,
      modelled: entry,
      required: true,
      deadline: deadlines.get(entry) ?? 0,
    })),
    ...optional.map((entry) => ({
      entry,
      modelled: modelled(entry),
      required: false,
      deadline: Number.POSITIVE_INFINITY,
    })),
  ];
}

/**
 * An optional SET whose value no GET returned matters only by its rev, never
 * by its value: the model sees all such SETs write one value that nobody read,
 * so that spending one or another of them leads to the same state (and the
 * cache and `optionalChoices` treat them as interchangeable).
 */
function blindToValue(
  known: HistoryEntry[],
  optional: HistoryEntry[],
): (entry: HistoryEntry) => HistoryEntry {
  const readValues = new Set<string>();
  for (const entry of known) {
    if (entry.result !== undefined && "value" in entry.result) readValues.add(entry.result.value);
  }
  let unread = unreadValue;
  for (let n = 1; readValues.has(unread); n++) unread = `${unreadValue}${n}`;
  const optionalEntries = new Set(optional);
  return (entry) => {
    const op = entry.op;
    if (op.kind !== "set" || readValues.has(op.value) || !optionalEntries.has(entry)) return entry;
    return { ...entry, op: { ...op, value: unread } };
  };
}

/** The value the model gives to SETs whose value nobody read (made unique against the values read). */
const unreadValue = "\u0000(a value no read returned)";

/** How many SETs (ok or unknown, not failed) may have written each value. */
function countWritersOfValues(entries: HistoryEntry[]): Map<string, number> {
  const writers = new Map<string, number>();
  for (const entry of entries) {
    if (entry.op.kind !== "set" || entry.outcome === "fail") continue;
    if (entry.result !== undefined && "error" in entry.result) continue;
    writers.set(entry.op.value, (writers.get(entry.op.value) ?? 0) + 1);
  }
  return writers;
}

/**
 * Whether an unknown SET could explain some answer: one that finished after
 * the SET started. Also gives the time the first read of its value finished.
 */
function unknownSetMatters(known: HistoryEntry[]) {
  // A rev that an ok SET produced, or that a GET showed beside a value, belongs to a write the
  // search places anyway (the ok SET, or the one unknown SET that wrote the value shown).
  const explainedRevs = new Set<number>();
  for (const { op, result } of known) {
    if (result === undefined || "error" in result) continue;
    if (op.kind === "set" || "value" in result) explainedRevs.add(result.rev);
  }
  // The reads of each value, and the latest REV_MISMATCH that no such rev explains.
  const readsOfValue = new Map<string, number[]>();
  let unexplainedMismatchUntil = Number.NEGATIVE_INFINITY;
  for (const entry of known) {
    const result = entry.result;
    const complete = entry.complete ?? 0;
    if (result === undefined) continue;
    if ("value" in result) {
      const reads = readsOfValue.get(result.value);
      if (reads === undefined) readsOfValue.set(result.value, [complete]);
      else reads.push(complete);
    } else if ("error" in result && result.error === "REV_MISMATCH" && result.rev !== 0) {
      if (!explainedRevs.has(result.rev))
        unexplainedMismatchUntil = Math.max(unexplainedMismatchUntil, complete);
    }
  }
  const readsAfter = (unknownSet: HistoryEntry): number[] =>
    unknownSet.op.kind !== "set"
      ? []
      : (readsOfValue.get(unknownSet.op.value) ?? []).filter((complete) => complete >= unknownSet.invoke);
  const matters = (unknownSet: HistoryEntry): boolean =>
    readsAfter(unknownSet).length > 0 || unexplainedMismatchUntil >= unknownSet.invoke;
  matters.firstReadOf = (unknownSet: HistoryEntry): number | undefined => {
    const reads = readsAfter(unknownSet);
    return reads.length === 0 ? undefined : reads.reduce((a, b) => Math.min(a, b));
  };
  return matters;
}

/** Whether this ok answer could depend on a file having been deleted. */
function needsFileGone(entry: HistoryEntry): boolean {
  const result = entry.result;
  if (result === undefined) return false;
  if ("error" in result) return result.error === "NOENT" || result.rev === 0;
  return entry.op.kind !== "get" && entry.op.rev !== -1;
}

// ---------------------------------------------------------------------------
// One file: the search.

/** A call or an answer in the time-ordered, doubly linked list the search walks and edits. */
interface ListNode {
  operation: number;
  required: boolean;
  call: boolean;
  /** A call's answer (for a required unknown write, its deadline); optional unknown writes have none. */
  answer: ListNode | undefined;
  prev: ListNode | undefined;
  next: ListNode | undefined;
}

function buildList(operations: SearchOperation[]): ListNode {
  const events: { time: number; node: ListNode }[] = [];
  const newNode = (operation: number, required: boolean, call: boolean): ListNode => ({
    operation,
    required,
    call,
    answer: undefined,
    prev: undefined,
    next: undefined,
  });
  operations.forEach(({ entry, required, deadline }, operation) => {
    const call = newNode(operation, required, true);
    events.push({ time: entry.invoke, node: call });
    if (required) {
      call.answer = newNode(operation, required, false);
      events.push({ time: deadline, node: call.answer });
    }
  });
  // At equal times calls come first: events at the same time count as concurrent.
  events.sort((a, b) => a.time - b.time || Number(b.node.call) - Number(a.node.call));
  const head = newNode(-1, true, false);
  let last = head;
  for (const { node } of events) {
    node.prev = last;
    last.next = node;
    last = node;
  }
  return head;
}

/** Takes a call and its answer out of the list: the operation is linearized. */
function lift(call: ListNode): void {
  unlink(call);
  if (call.answer !== undefined) unlink(call.answer);
}

/** Puts them back, in the reverse order of `lift`, so that the neighbours are right again. */
function unlift(call: ListNode): void {
  if (call.answer !== undefined) relink(call.answer);
  relink(call);
}

function unlink(node: ListNode): void {
  if (node.prev !== undefined) node.prev.next = node.next;
  if (node.next !== undefined) node.next.prev = node.prev;
}

function relink(node: ListNode): void {
  if (node.prev !== undefined) node.prev.next = node;
  if (node.next !== undefined) node.next.prev = node;
}

/** The first required call from `from` on that comes before every pending answer. */
function nextRequiredCall(from: ListNode | undefined): ListNode | undefined {
  for (let node = from; node?.call; node = node.next) {
    if (node.required) return node;
  }
  return undefined;
}

/**
 * A set of operations as bits, with a hash kept up to date as operations come
 * and go (Zobrist hashing: each operation toggles its own pseudo-random
 * number), so that a cache key costs nothing however long the history.
 */
class OperationSet {
  readonly words: Uint32Array;
  private hash = 0;
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }
  add(index: number): void {
    this.words[index >>> 5] = (this.words[index >>> 5] ?? 0) | (1 << (index & 31));
    this.hash ^= scramble(index);
  }
  delete(index: number): void {
    this.words[index >>> 5] = (this.words[index >>> 5] ?? 0) & ~(1 << (index & 31));
    this.hash ^= scramble(index);
  }
  /** Equal sets have equal hashes; unequal ones rarely do (compare the words to be sure). */
  get hashCode(): number {
    return this.hash;
  }
}

/** A fixed pseudo-random 32-bit number per index (the finalizer of MurmurHash3). */
function scramble(index: number): number {
  let h = Math.imul(index + 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function isSubset(smaller: Uint32Array, larger: Uint32Array): boolean {
  return smaller.every((word, index) => (word & ~(larger[index] ?? 0)) === 0);
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  return a.every((word, index) => word === b[index]);
}

/** A point the search reached: the required operations placed, the optional ones spent, the state. */
interface Configuration {
  placed: Uint32Array;
  spent: Uint32Array;
  state: KeyState;
}

/**
 * Lowe's cache of configurations visited, with subsumption. One visited before
 * covers this one if it has the same required operations placed and the same
 * value, spent a subset of the optional writes, and its revs leave at least
 * as much room (a lower or equal `lastRev`, and file rev bounds that contain
 * these): it had every continuation this one has. If it led nowhere, neither
 * does this one; if it is still being explored, it will try them. Without
 * subsumption the search would try every combination of writes that may never
 * have happened.
 */
class VisitedConfigurations {
  private readonly byKey = new Map<string, Configuration[]>();

  /** Records the configuration; false if one visited before covers it. */
  visit(placed: OperationSet, valueId: number, spent: OperationSet, state: KeyState): boolean {
    const key = `${placed.hashCode}|${valueId}`;
    const visited = this.byKey.get(key);
    if (visited?.some((earlier) => covers(earlier, placed.words, spent.words, state))) return false;
    const configuration = { placed: placed.words.slice(), spent: spent.words.slice(), state };
    if (visited === undefined) this.byKey.set(key, [configuration]);
    else visited.push(configuration);
    return true;
  }
}

function covers(earlier: Configuration, placed: Uint32Array, spent: Uint32Array, state: KeyState): boolean {
  const a = earlier.state;
  return (
    a.lastRev <= state.lastRev &&
    a.revLow <= state.revLow &&
    a.revHigh >= state.revHigh &&
    isSubset(earlier.spent, spent) &&
    sameWords(earlier.placed, placed)
  );
}

interface KeyVerdictOk {
  ok: true;
  operations: number;
}

interface Prefix {
  order: number[];
  state: KeyState;
}

function checkKey(
  path: string,
  entries: HistoryEntry[],
  budget: { stepsLeft: number },
): KeyVerdictOk | CheckFailure | CheckUndecided {
  return new KeySearch(path, selectOperations(entries), budget).run();
}

/** The depth-first search over one file's operations. */
class KeySearch {
  private readonly head: ListNode;
  private readonly requiredCount: number;
  private unplacedRequired: number;
  // Required operations come first in `operations` (selectOperations puts them first), optional ones after.
  private readonly linearizedRequired: OperationSet;
  private readonly spentOptional: OperationSet;
  private readonly visited = new VisitedConfigurations();
  private readonly valueIds = new Map<string, number>();
  private readonly stack: { call: ListNode; stateBefore: KeyState }[] = [];
  /** requiredChoices() and optionalChoices() per depth of the stack, valid until the search goes down to that depth again. */
  private readonly requiredByDepth: (ListNode[] | undefined)[] = [];
  /** Per depth, the index in requiredByDepth of the candidate tried last there. */
  private readonly requiredTried: number[] = [];
  private readonly choicesByDepth: (ListNode[] | undefined)[] = [];
  /** revRank() of each operation. */
  private readonly ranks: number[];
  /** The required operations whose answer names a store rev, by latestFit() ascending. */
  private readonly byLatestFit: number[];
  /** Each operation's index in byLatestFit (-1 for the others). */
  private readonly positionInFit: Int32Array;
  private readonly latestFits: number[];
  private readonly placed: Uint8Array;
  /** No operation of byLatestFit before this index is unplaced. */
  private firstUnplacedFit = 0;
  private state: KeyState = initialKeyState;
  private longest: Prefix = { order: [], state: initialKeyState };

  constructor(
    private readonly path: string,
    private readonly operations: SearchOperation[],
    private readonly budget: { stepsLeft: number },
  ) {
    this.head = buildList(operations);
    this.requiredCount = operations.filter((operation) => operation.required).length;
    this.unplacedRequired = this.requiredCount;
    this.linearizedRequired = new OperationSet(this.requiredCount);
    this.spentOptional = new OperationSet(operations.length - this.requiredCount);
    this.ranks = operations.map(({ entry }) => revRank(entry));
    this.latestFits = operations.map(({ entry, required }) =>
      required ? latestFit(entry) : Number.POSITIVE_INFINITY,
    );
    this.byLatestFit = operations
      .map((_, index) => index)
      .filter((index) => (this.latestFits[index] as number) < Number.POSITIVE_INFINITY)
      .sort((a, b) => (this.latestFits[a] as number) - (this.latestFits[b] as number));
    this.positionInFit = new Int32Array(operations.length).fill(-1);
    this.byLatestFit.forEach((operation, position) => {
      this.positionInFit[operation] = position;
    });
    this.placed = new Uint8Array(operations.length);
  }

  run(): KeyVerdictOk | CheckFailure | CheckUndecided {
    let candidate = this.nextCandidate(undefined);
    while (this.unplacedRequired > 0) {
      if (candidate === undefined) {
        // Nothing fits next: undo the last choice and try the one after it.
        const undone = this.undo();
        if (undone === undefined) return explainFailure(this.path, this.operations, this.longest);
        candidate = this.nextCandidate(undone);
        continue;
      }
      if (this.budget.stepsLeft <= 0) {
        return {
          ok: "unknown",
          reason: `${this.path}: the search used up its steps (maxSteps) before deciding`,
        };
      }
      this.budget.stepsLeft -= 1;
      candidate = this.tryToLinearize(candidate)
        ? this.nextCandidate(undefined)
        : this.nextCandidate(candidate);
    }
    return { ok: true, operations: this.operations.length };
  }

  /**
   * The operation to try next, after `after` (or the first one when undefined).
   * Candidates are the calls before the earliest pending answer: any of them
   * may be linearized next. Required operations are tried first and optional
   * (unknown) writes after them, so that the search meets each state with as
   * few optional writes spent as possible first, and the cache can then cut
   * the branches that spent more (see VisitedConfigurations).
   */
  private nextCandidate(after: ListNode | undefined): ListNode | undefined {
    if (after === undefined || after.required) {
      const required = this.requiredChoices();
      const depth = this.stack.length;
      let index = 0;
      if (after !== undefined) {
        const tried = this.requiredTried[depth] ?? -1;
        index = (required[tried] === after ? tried : required.indexOf(after)) + 1;
      }
      this.requiredTried[depth] = index;
      if (index < required.length) return required[index];
      return this.optionalChoices()[0];
    }
    const choices = this.optionalChoices();
    const index = choices.indexOf(after);
    return index < 0 ? undefined : choices[index + 1];
  }

  /**
   * The required calls before the earliest pending answer, in the order of
   * the revs their answers name (revRank). Any order finds the same verdict;
   * this one is usually the store's own, so the search goes straight down it,
   * where the calls' order, with writes that answer late and out of order,
   * sends it into branches it takes exponentially long to leave.
   */
  private requiredChoices(): ListNode[] {
    const cached = this.requiredByDepth[this.stack.length];
    if (cached !== undefined) return cached;
    const choices: ListNode[] = [];
    for (let node = nextRequiredCall(this.head.next); node !== undefined; node = nextRequiredCall(node.next))
      choices.push(node);
    // Stable: calls of equal rank keep their order in time.
    choices.sort((a, b) => (this.ranks[a.operation] as number) - (this.ranks[b.operation] as number));
    this.requiredByDepth[this.stack.length] = choices;
    return choices;
  }

  /**
   * Whether some required operation can no longer be linearized at all: its
   * answer names a store rev that the revs consumed so far have passed. The
   * model's `lastRev` never decreases along a linearization, so the branch is
   * dead however it goes on; without this the search would learn it only at
   * that operation's answer, after trying every order of the calls before it.
   */
  private strandsSomeOperation(): boolean {
    let first = this.firstUnplacedFit;
    while (first < this.byLatestFit.length && this.placed[this.byLatestFit[first] as number] === 1) first++;
    this.firstUnplacedFit = first;
    const operation = this.byLatestFit[first];
    return operation !== undefined && (this.latestFits[operation] as number) < this.state.lastRev;
  }

  /**
   * The optional writes worth trying here. Each can take effect at any time
   * from its call on, so the search needs one only where an answer depends on
   * it, and of those that have the same effect here (the DELs, or the SETs of
   * one value), only the one with the weakest check (a lower expected rev fits
   * in fewer states): spending it keeps the stronger ones for later. Writes
   * that would change nothing but revs (a DEL of a missing file) never help.
   */
  private optionalChoices(): ListNode[] {
    const cached = this.choicesByDepth[this.stack.length];
    if (cached !== undefined) return cached;
    const weakestByEffect = new Map<string, { node: ListNode; strength: number }>();
    for (let node = this.head.next; node?.call; node = node.next) {
      if (node.required) continue;
      const op = this.entryOf(node).op;
      if (op.kind === "get") continue;
      const stepped = step(this.state, this.entryOf(node));
      if (!("next" in stepped) || changesOnlyRevs(this.state, stepped.next)) continue;
      const effect = op.kind === "set" ? `set ${op.value}` : "del";
      const strength = op.rev === -1 ? Number.POSITIVE_INFINITY : op.rev; // -1 has no check: the strongest
      const weakest = weakestByEffect.get(effect);
      if (weakest === undefined || strength < weakest.strength)
        weakestByEffect.set(effect, { node, strength });
    }
    const choices = [...weakestByEffect.values()]
      .map(({ node }) => node)
      .sort((a, b) => a.operation - b.operation);
    this.choicesByDepth[this.stack.length] = choices;
    return choices;
  }

  /** The entry as the model sees it. */
  private entryOf(node: ListNode): HistoryEntry {
    return (this.operations[node.operation] as SearchOperation).modelled;
  }

  /** Linearizes `call` next if the model accepts it and the configuration it leads to is new. */
  private tryToLinearize(call: ListNode): boolean {
    const stepped = step(this.state, this.entryOf(call));
    if (!("next" in stepped) || this.overwritesUnseen(call)) return false;
    this.mark(call.operation, true);
    const valueId = this.valueId(stepped.next.value);
    if (!this.visited.visit(this.linearizedRequired, valueId, this.spentOptional, stepped.next)) {
      this.mark(call.operation, false);
      return false;
    }
    this.stack.push({ call, stateBefore: this.state });
    this.requiredByDepth[this.stack.length] = undefined; // a new state at this depth
    this.choicesByDepth[this.stack.length] = undefined;
    this.state = stepped.next;
    lift(call);
    this.placed[call.operation] = 1;
    if (call.required) this.unplacedRequired -= 1;
    // Checked before the longest prefix is kept, so that a failure's explanation stops where the
    // stranded operation had to go, and shows why it does not fit there.
    if (this.strandsSomeOperation()) {
      this.undo();
      return false;
    }
    if (this.stack.length > this.longest.order.length) {
      this.longest = { order: this.stack.map((frame) => frame.call.operation), state: this.state };
    }
    return true;
  }

  /** Takes back the last operation linearized; returns its call, or undefined when there is none. */
  private undo(): ListNode | undefined {
    const undone = this.stack.pop();
    if (undone === undefined) return undefined;
    this.state = undone.stateBefore;
    this.mark(undone.call.operation, false);
    unlift(undone.call);
    this.placed[undone.call.operation] = 0;
    const position = this.positionInFit[undone.call.operation] as number;
    if (position >= 0 && position < this.firstUnplacedFit) this.firstUnplacedFit = position;
    if (undone.call.required) this.unplacedRequired += 1;
    return undone.call;
  }

  /**
   * A write right after an optional write, that would also fit before it: the
   * optional write's effect is overwritten unseen, and placing this write
   * first (which the search tries as well) leaves more room.
   */
  private overwritesUnseen(call: ListNode): boolean {
    const previous = this.stack.at(-1);
    const entry = this.entryOf(call);
    if (previous === undefined || previous.call.required || !overwrites(entry)) return false;
    return "next" in step(previous.stateBefore, entry);
  }

  private mark(operation: number, on: boolean): void {
    const [set, index] =
      operation < this.requiredCount
        ? [this.linearizedRequired, operation]
        : [this.spentOptional, operation - this.requiredCount];
    if (on) set.add(index);
    else set.delete(index);
  }

  /** Values can be large: the cache names each by a small number (-1: no file). */
  private valueId(value: string | undefined): number {
    if (value === undefined) return -1;
    let id = this.valueIds.get(value);
    if (id === undefined) {
      id = this.valueIds.size;
      this.valueIds.set(value, id);
    }
    return id;
  }
}

/**
 * The highest `lastRev` (model.ts) from which the operation's answer can
 * still be linearized: a write that consumed rev r needs every rev before it
 * below r; a read served at store rev s needs every rev before it at most s.
 * Infinite when the answer names no store rev.
 */
function latestFit(entry: HistoryEntry): number {
  const point = exactPoint(entry);
  if (point === undefined) return Number.POSITIVE_INFINITY;
  return point.consumed ? point.rev - 1 : point.rev;
}

/**
 * Where the answer puts the operation among the store's revs: a write at the
 * rev it consumed, a read just after the rev it was served at (or the file rev
 * it showed). Answers that name no rev come first: they are cheap to try.
 */
function revRank(entry: HistoryEntry): number {
  const point = exactPoint(entry);
  if (point !== undefined) return point.consumed ? 2 * point.rev : 2 * point.rev + 1;
  const shown = entry.outcome === "ok" ? entry.result?.rev : undefined;
  return shown !== undefined && shown > 0 ? 2 * shown + 1 : -1;
}

function changesOnlyRevs(before: KeyState, after: KeyState): boolean {
  return after.value === before.value && after.revLow === before.revLow && after.revHigh === before.revHigh;
}

/** Whether a write that fits replaces the file's value (so it does not depend on what was there). */
function overwrites(entry: HistoryEntry): boolean {
  if (entry.op.kind === "get") return false;
  return entry.outcome === "unknown" || (entry.result !== undefined && !("error" in entry.result));
}

// ---------------------------------------------------------------------------
// Explaining a failure: the longest prefix the search could linearize, and why
// none of the operations that could come next fits after it.

const prefixShown = 8;
const candidatesShown = 8;

function explainFailure(path: string, operations: SearchOperation[], longest: Prefix): CheckFailure {
  const placed = new Set(longest.order);
  const unplaced = operations.filter((_, index) => !placed.has(index));
  // What can go next: everything called before the earliest answer still pending.
  const deadline = unplaced
    .filter((operation) => operation.required)
    .reduce((earliest, operation) => Math.min(earliest, operation.deadline), Number.POSITIVE_INFINITY);
  const candidates = unplaced
    .filter((operation) => operation.entry.invoke <= deadline)
    .sort(
      (a, b) =>
        Number(b.required) - Number(a.required) ||
        revRank(a.entry) - revRank(b.entry) ||
        a.entry.invoke - b.entry.invoke,
    )
    .slice(0, candidatesShown);
  const prefix = longest.order
    .slice(-prefixShown)
    .map((index) => (operations[index] as SearchOperation).entry);
  const lines = [
    `${path}: not linearizable. The longest linearizable prefix holds ${longest.order.length} of the ` +
      `${operations.length} operations considered` +
      (prefix.length < longest.order.length ? `; its last ${prefix.length}:` : ":"),
    ...prefix.map((entry) => `  ${describeEntry(entry)}`),
    `after which the file holds ${describeFile(longest.state)}. None of the operations that could come next fits:`,
    ...candidates.map((operation) => {
      const stepped = step(longest.state, operation.modelled);
      const why = "reason" in stepped ? stepped.reason() : "it fits, but nothing fits after it";
      return `  ${describeEntry(operation.entry)}\n    ${why}`;
    }),
  ];
  return {
    ok: false,
    key: path,
    // SETs modelled blind to their value (see blindToValue) show what they stand for.
    explanation: lines
      .join("\n")
      .replace(/"\\u0000\(a value no read returned\)\d*"/g, "a value no read returned"),
    operations: [...prefix, ...candidates.map((operation) => operation.entry)],
  };
}

// ---------------------------------------------------------------------------
// Describing operations.

function describeValue(value: string): string {
  const shown = JSON.stringify(value);
  return shown.length <= 40 ? shown : `${shown.slice(0, 37)}…"`;
}

function describeOperation(op: Operation): string {
  if (op.kind === "get") return `get ${op.path}`;
  if (op.kind === "del") return `del ${op.path} rev=${op.rev}`;
  return `set ${op.path} rev=${op.rev} ${describeValue(op.value)}`;
}

function describeResult(result: OperationResult): string {
  const storeRev =
    "storeRev" in result && result.storeRev !== undefined ? ` (store rev ${result.storeRev})` : "";
  if ("error" in result) {
    return result.error === "NOENT"
      ? `NOENT${storeRev}`
      : `REV_MISMATCH at file rev ${result.rev}${storeRev}`;
  }
  if ("value" in result) return `${describeValue(result.value)} at rev ${result.rev}${storeRev}`;
  return `rev ${result.rev}`;
}

/** One line per operation: `client: op → answer [invoke, complete]`. */
export function describeEntry(entry: HistoryEntry): string {
  const answer =
    entry.outcome === "ok" && entry.result !== undefined ? describeResult(entry.result) : entry.outcome;
  const span = entry.outcome === "unknown" ? `[${entry.invoke}, ∞)` : `[${entry.invoke}, ${entry.complete}]`;
  return `${entry.client}: ${describeOperation(entry.op)} → ${answer} ${span}`;
}
