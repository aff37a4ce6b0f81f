// A Jepsen-style run against the real local cluster: clients doing SET, CAS,
// GET and DEL on a few keys over plain HTTP while a nemesis takes acceptors
// down, slows them, makes them lose messages and crash-restarts them, then
// heals. Every operation is recorded with its times and outcome, and the
// history is checked for linearizability (test/lin). Watchers on the same keys
// ride through the faults; their events must equal the committed history.
//
// One seed gives one nemesis schedule and one choice of operations (the timing
// of a real cluster still varies from run to run).

import { connect } from "../../client/index";
import { checkHistory } from "../lin/checker";
import { createRecorder, type History, type OperationResult } from "../lin/history";
import { Random } from "../sim/random";

export interface JepsenOptions {
  url: string;
  seed: number;
  durationMs: number;
  clients: number;
  keys: number;
  /** A nemesis action this often. */
  nemesisEveryMs: number;
  watchers: number;
  /**
   * One acceptor down from the start for this long while the rest of the run
   * goes on (the nemesis leaves it alone meanwhile), then back: with a short
   * DOOZER_LOG_SLOTS_KEPT it must catch up by a state transfer (issue 11).
   */
  longDown?: { acceptor: string; ms: number };
  log?: (line: string) => void;
}

export interface JepsenReport {
  seed: number;
  operations: number;
  ok: number;
  failed: number;
  unknown: number;
  faults: number;
  /** "linearizable", or the checker's explanation. */
  verdict: string;
  linearizable: boolean | "unknown";
  watchEvents: number;
  watchersMatched: boolean;
  watchMismatch?: string;
  history: History;
}

const prefix = "/jepsen";
const acceptors = ["acceptor-0", "acceptor-1", "acceptor-2", "acceptor-3", "acceptor-4"];
const requestTimeoutMs = 6_000;

export async function runJepsen(options: JepsenOptions): Promise<JepsenReport> {
  const { url, seed } = options;
  const random = new Random(seed);
  const log = options.log ?? (() => {});
  const run = `${prefix}/s${seed}x${Date.now().toString(36)}`;
  const keys = Array.from({ length: options.keys }, (_, i) => `${run}/k${i}`);
  const recorder = createRecorder(() => performance.now());
  const deadline = Date.now() + options.durationMs;

  await post(url, "/v1/faults", { acceptor: "*", mode: "ok" });
  const startRev = (await (await fetch(`${url}/v1/rev`)).json()) as { rev: number };
  const watchers = Array.from({ length: options.watchers }, () => {
    const client = connect(url, { transport: "websocket" });
    const events: string[] = [];
    const watch = client.watch(`${run}/**`, { from: startRev.rev + 1 });
    const done = (async () => {
      for await (const e of watch) events.push(`${e.rev} ${e.op} ${e.path} ${e.value.text()}`);
    })().catch((error: Error) => events.push(`ended: ${error.message}`));
    return { client, events, watch, done };
  });

  let faults = 0;
  const longDown = options.longDown;
  let longDownUntil = 0;
  if (longDown) {
    await post(url, "/v1/faults", { acceptor: longDown.acceptor, mode: "down" });
    longDownUntil = Date.now() + longDown.ms;
    faults++;
    log(`nemesis: ${longDown.acceptor} down for ${longDown.ms} ms`);
  }
  const nemesis = (async () => {
    const down = new Set<string>(longDown ? [longDown.acceptor] : []);
    while (Date.now() < deadline) {
      await sleep(options.nemesisEveryMs * (0.5 + random.next()));
      if (Date.now() >= deadline) break;
      if (longDown && longDownUntil > 0 && Date.now() >= longDownUntil) {
        longDownUntil = 0;
        down.delete(longDown.acceptor);
        log(`nemesis: ${longDown.acceptor} back`);
        await post(url, "/v1/faults", { acceptor: longDown.acceptor, mode: "ok" }).catch(() => undefined);
      }
      // While the long-down acceptor is down, the nemesis works on the others, a minority at a time.
      const candidates = longDownUntil > 0 ? acceptors.filter((a) => a !== longDown?.acceptor) : acceptors;
      const acceptor = random.pick(candidates);
      const roll = random.next();
      if (roll < 0.04 && longDownUntil === 0) {
        // A majority cut off for longer than the write timeout: writes answer NO_QUORUM and
        // their outcome is unknown until the history says.
        const majority = [...acceptors].sort(() => random.next() - 0.5).slice(0, 3);
        log(`nemesis: majority down ${majority.join(" ")}`);
        for (const a of majority)
          await post(url, "/v1/faults", { acceptor: a, mode: "down" }).catch(() => undefined);
        faults += 3;
        await sleep(5_000);
        for (const a of majority)
          await post(url, "/v1/faults", { acceptor: a, mode: "ok" }).catch(() => undefined);
        for (const a of majority) down.delete(a);
        continue;
      }
      // Mostly a minority faulty, so that work gets done; now and then a majority, for NO_QUORUM.
      const action =
        roll < 0.3
          ? { acceptor, mode: "down" }
          : roll < 0.45
            ? { acceptor, mode: "slow", delayMs: 100 + random.int(600) }
            : roll < 0.6
              ? { acceptor, mode: "lossy", dropRate: 0.3 }
              : roll < 0.75
                ? { acceptor, mode: "crash" }
                : roll < 0.9
                  ? { acceptor, mode: "ok" }
                  : { acceptor: longDownUntil > 0 ? acceptor : "*", mode: "ok" };
      if (action.mode === "down" && down.size >= 2 && random.chance(0.7)) continue;
      if (action.mode === "down") down.add(acceptor);
      if (action.mode === "ok") action.acceptor === "*" ? down.clear() : down.delete(acceptor);
      faults++;
      log(`nemesis: ${JSON.stringify(action)}`);
      await post(url, "/v1/faults", action).catch(() => undefined);
    }
  })();

  const clients = Array.from({ length: options.clients }, async (_, c) => {
    const client = `c${c}`;
    const clientRandom = new Random(seed * 1000 + c);
    const lastSeen = new Map<string, number>();
    for (let n = 0; Date.now() < deadline; n++) {
      const key = clientRandom.pick(keys);
      const roll = clientRandom.next();
      if (roll < 0.4) {
        const op = recorder.invoke(client, { kind: "get", path: key });
        const answer = await request(url, "GET", `/v1/files${key}`);
        if (answer.status === 200) {
          const rev = Number(answer.headers.get("Doozer-Rev"));
          lastSeen.set(key, rev);
          const storeRev = answer.headers.get("Doozer-Store-Rev");
          op.ok({ value: answer.text, rev, ...(storeRev === null ? {} : { storeRev: Number(storeRev) }) });
        } else if (answer.code === "NOENT") {
          lastSeen.set(key, 0);
          op.ok({ error: "NOENT" });
        } else op.fail(); // A read that failed changed nothing.
        continue;
      }
      const isDel = roll >= 0.85;
      const cas = roll >= 0.6 && !isDel;
      const rev = cas ? (lastSeen.get(key) ?? 0) : -1;
      const value = `${client}-${n}`;
      const op = recorder.invoke(
        client,
        isDel ? { kind: "del", path: key, rev } : { kind: "set", path: key, rev, value },
      );
      const answer = await request(
        url,
        isDel ? "DELETE" : "PUT",
        `/v1/files${key}?rev=${rev}`,
        isDel ? undefined : value,
      );
      if (answer.status === 200) {
        const result = JSON.parse(answer.text) as { rev: number };
        if (!isDel) lastSeen.set(key, result.rev);
        op.ok({ rev: result.rev });
      } else if (answer.code === "REV_MISMATCH") {
        const body = JSON.parse(answer.text) as { error: { rev: number; storeRev: number } };
        lastSeen.set(key, body.error.rev);
        const mismatch: OperationResult = {
          error: "REV_MISMATCH",
          rev: body.error.rev,
          storeRev: body.error.storeRev,
        };
        op.ok(mismatch);
      } else if (answer.status >= 400 && answer.status < 500) op.fail();
      else op.unknown(); // NO_QUORUM, a timeout, a lost connection: it may or may not have happened.
    }
  });

  await Promise.all([nemesis, ...clients]);
  await post(url, "/v1/faults", { acceptor: "*", mode: "ok" });
  // Reads after healing close the history: what the store holds in the end.
  for (const key of keys) {
    const op = recorder.invoke("final", { kind: "get", path: key });
    const answer = await request(url, "GET", `/v1/files${key}`);
    if (answer.status === 200) op.ok({ value: answer.text, rev: Number(answer.headers.get("Doozer-Rev")) });
    else if (answer.code === "NOENT") op.ok({ error: "NOENT" });
    else op.fail();
  }

  const history = recorder.history();
  const verdict = checkHistory(history);

  // The committed history of the run's files, read with a chain of WAITs now that all is healed.
  const endRev = ((await (await fetch(`${url}/v1/rev`)).json()) as { rev: number }).rev;
  const truth: string[] = [];
  for (let next = startRev.rev + 1; next <= endRev; ) {
    const answer = await request(url, "GET", `/v1/wait?glob=${run}/**&rev=${next}&timeout=1000`);
    if (answer.status === 204) break;
    if (answer.status !== 200)
      throw new Error(`reading the committed history: WAIT answered ${answer.status} ${answer.text}`);
    const e = JSON.parse(answer.text) as { path: string; rev: number; value: string; op: string };
    if (e.rev > endRev) break;
    truth.push(`${e.rev} ${e.op} ${e.path} ${e.value}`);
    next = e.rev + 1;
  }
  for (let i = 0; i < 200 && watchers.some((w) => w.events.length < truth.length); i++) await sleep(50);
  let watchMismatch: string | undefined;
  for (const [i, w] of watchers.entries()) {
    w.watch.cancel();
    w.client.close();
    const seen = w.events.slice(0, truth.length);
    const firstDiff = seen.findIndex((e, j) => e !== truth[j]);
    if (seen.length !== truth.length || firstDiff !== -1) {
      watchMismatch ??= `watcher ${i}: ${seen.length} events of ${truth.length}; first difference at ${firstDiff}: saw ${seen[firstDiff]}, history has ${truth[firstDiff]}`;
    }
  }

  const count = (o: string) => history.filter((h) => h.outcome === o).length;
  return {
    seed,
    operations: history.length,
    ok: count("ok"),
    failed: count("fail"),
    unknown: count("unknown"),
    faults,
    verdict:
      verdict.ok === true ? "linearizable" : verdict.ok === false ? verdict.explanation : verdict.reason,
    linearizable: verdict.ok,
    watchEvents: truth.length,
    watchersMatched: watchMismatch === undefined,
    watchMismatch,
    history,
  };
}

interface Answer {
  status: number;
  code?: string;
  text: string;
  headers: Headers;
}

/** One HTTP request, bounded in time; no answer at all is status 0. */
async function request(url: string, method: string, path: string, body?: string): Promise<Answer> {
  try {
    const response = await fetch(`${url}${path}`, {
      method,
      body,
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    const text = await response.text();
    let code: string | undefined;
    if (response.status >= 400) {
      try {
        code = (JSON.parse(text) as { error: { code: string } }).error.code;
      } catch {
        code = undefined;
      }
    }
    return { status: response.status, code, text, headers: response.headers };
  } catch {
    return { status: 0, text: "", headers: new Headers() };
  }
}

async function post(url: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body) });
  await response.body?.cancel();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
