// Sessions and ephemeral files (SPEC §6, and the §2/§3 rows about them),
// black-box over HTTP and the WebSocket, against the real Worker and acceptor
// Durable Objects. One test per sentence, or as close as a sentence allows.
//
// Tests in this file run one after another on one store, so a test may compare
// the store rev before and after what it does; each uses its own fresh paths.

import { describe, expect, it } from "vitest";
import {
  api,
  del,
  type Frame,
  freshPath,
  healAll,
  json,
  openSocket,
  setFault,
  sleep,
  storeRev,
  text,
  until,
  write,
} from "./helpers";

// --- Helpers ---

interface ErrorFields {
  code: string;
  message: string;
  rev?: number;
  storeRev?: number;
}

const idPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks status and code of an error answer and returns its error object. */
async function expectError(response: Response, status: number, code: string): Promise<ErrorFields> {
  const body = (await response.json()) as { error: ErrorFields };
  expect({ status: response.status, code: body.error?.code }).toEqual({ status, code });
  expect(typeof body.error.message).toBe("string");
  return body.error;
}

async function open(ttl?: number | string): Promise<{ session: string; ttl: number; rev: number }> {
  const response = await api(`/v1/sessions${ttl === undefined ? "" : `?ttl=${ttl}`}`, { method: "POST" });
  expect(response.status).toBe(200);
  const body = await json<{ session: string; ttl: number; rev: number }>(response);
  expect(body.session).toMatch(idPattern);
  return body;
}

function keepalive(id: string): Promise<Response> {
  return api(`/v1/sessions/${id}/keepalive`, { method: "POST" });
}

function getSession(id: string): Promise<Response> {
  return api(`/v1/sessions/${id}`);
}

function endSession(id: string): Promise<Response> {
  return api(`/v1/sessions/${id}`, { method: "DELETE" });
}

async function alive(id: string): Promise<boolean> {
  const response = await getSession(id);
  if (response.status === 200) {
    await response.body?.cancel();
    return true;
  }
  await expectError(response, 404, "NOSESSION");
  return false;
}

/** PUT under a session; returns the new rev. */
async function putIn(path: string, session: string, value = "v", rev: number | string = -1): Promise<number> {
  const response = await api(`/v1/files${path}?rev=${rev}&session=${session}`, {
    method: "PUT",
    body: value,
  });
  expect(response.status).toBe(200);
  return (await json<{ rev: number }>(response)).rev;
}

function codeOf(frame: Frame): string | undefined {
  return (frame.error as ErrorFields | undefined)?.code;
}

// --- Ids and ttl ---

describe("session ids and ttl", () => {
  it("POST /v1/sessions opens a session: 200 {session, ttl, rev}, default ttl 15,000, one rev", async () => {
    const before = await storeRev();
    const response = await api("/v1/sessions", { method: "POST" });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(Object.keys(body).sort()).toEqual(["rev", "session", "ttl"]);
    expect(body.ttl).toBe(15_000);
    expect(body.session).toMatch(idPattern);
    expect(body.rev).toBe(before + 1);
    expect(await storeRev()).toBe(before + 1);
    await endSession(String(body.session));
  });

  it("ttl bounds are 1,000 and 3,600,000 inclusive", async () => {
    for (const ttl of [1000, 3_600_000]) {
      const s = await open(ttl);
      expect(s.ttl).toBe(ttl);
      expect((await endSession(s.session)).status).toBe(200);
    }
  });

  it("a ttl out of range or not an integer is RANGE and consumes no rev", async () => {
    const before = await storeRev();
    for (const ttl of ["999", "3600001", "0", "-1000", "1500.5", "abc", "1e4", "", "99999999999999999999"]) {
      const response = await api(`/v1/sessions?ttl=${encodeURIComponent(ttl)}`, { method: "POST" });
      await expectError(response, 400, "RANGE");
    }
    const s = await openSocket();
    for (const ttl of [999, 3_600_001, 1500.5, "abc", true, [], {}]) {
      expect(codeOf(await s.ask({ verb: "SESSION", ttl }))).toBe("RANGE");
    }
    s.ws.close();
    expect(await storeRev()).toBe(before);
  });

  it("a malformed or empty session id is BAD_REQUEST on every route and verb, and consumes no rev", async () => {
    const before = await storeRev();
    const bad = ["a.b", "a%20b", "x".repeat(65), "%41", "a~b", "é"];
    for (const id of bad) {
      await expectError(await keepalive(id), 400, "BAD_REQUEST");
      await expectError(await getSession(id), 400, "BAD_REQUEST");
      await expectError(await endSession(id), 400, "BAD_REQUEST");
      const response = await api(`/v1/files${freshPath()}?rev=-1&session=${encodeURIComponent(id)}`, {
        method: "PUT",
        body: "v",
      });
      await expectError(response, 400, "BAD_REQUEST");
    }
    // Empty ids.
    await expectError(await keepalive(""), 400, "BAD_REQUEST");
    await expectError(await getSession(""), 400, "BAD_REQUEST");
    await expectError(await endSession(""), 400, "BAD_REQUEST");
    await expectError(
      await api(`/v1/files${freshPath()}?rev=-1&session=`, { method: "PUT", body: "v" }),
      400,
      "BAD_REQUEST",
    );
    const s = await openSocket();
    for (const session of ["", "a.b", "x".repeat(65), "a b", 12, true, [], {}]) {
      for (const verb of ["KEEPALIVE", "ENDSESSION", "SESSION"]) {
        expect(codeOf(await s.ask({ verb, session }))).toBe("BAD_REQUEST");
      }
      expect(codeOf(await s.ask({ verb: "SET", path: freshPath(), rev: -1, value: "v", session }))).toBe(
        "BAD_REQUEST",
      );
    }
    s.ws.close();
    expect(await storeRev()).toBe(before);
  });

  it("a well-formed id of 64 characters that never opened is NOSESSION, not BAD_REQUEST", async () => {
    const id = `${"A".repeat(30)}_-${"z".repeat(31)}9`;
    expect(id).toHaveLength(64);
    await expectError(await keepalive(id), 404, "NOSESSION");
  });
});

// --- Opening, ending, ownership ---

describe("opening and ending", () => {
  it("ending deletes every owned file in bytewise path order, consecutive del events without a session field", async () => {
    const dir = freshPath("d");
    const s = await open();
    const paths = [`${dir}/b`, `${dir}/a`, `${dir}/Z`, `${dir}/c/x`, `${dir}/a-`];
    for (const p of paths) await putIn(p, s.session);
    await write(`${dir}/keep`, "persistent");

    const body = await json<{ session: string; ttl: number; files: string[] }>(await getSession(s.session));
    const sorted = [...paths].sort();
    expect(sorted).toEqual([`${dir}/Z`, `${dir}/a`, `${dir}/a-`, `${dir}/b`, `${dir}/c/x`]);
    expect(body).toEqual({ session: s.session, ttl: 15_000, files: sorted });

    const w = await openSocket();
    expect((await w.ask({ verb: "WATCH", glob: `${dir}/**` })).watching).toBe(true);
    const watchId = w.nextId() - 1;
    const before = await storeRev();
    const ended = await endSession(s.session);
    expect(ended.status).toBe(200);
    const endBody = await json(ended);
    expect(endBody).toEqual({ session: s.session, rev: before + paths.length });
    expect(await storeRev()).toBe(before + paths.length);
    await until(() => w.events(watchId).length >= paths.length, "the del events");
    await sleep(50);
    const events = w.events(watchId);
    expect(events.map((e) => e.rev)).toEqual(paths.map((_, i) => before + 1 + i));
    expect(events.map((e) => e.path)).toEqual(sorted);
    for (const e of events) {
      expect(e.op).toBe("del");
      expect("session" in e).toBe(false);
    }
    w.ws.close();

    // WAIT sees the same first del, without a session field.
    const wait = await json(await api(`/v1/wait?glob=${dir}/**&rev=${before + 1}`));
    expect(wait.op).toBe("del");
    expect(wait.path).toBe(sorted[0]);
    expect("session" in wait).toBe(false);

    // The persistent file is still there; the owned ones are gone.
    expect((await api(`/v1/files${dir}/keep`)).status).toBe(200);
    for (const p of paths) expect((await api(`/v1/files${p}`)).status).toBe(404);
  });

  it("a session that owns one file consumes one rev when it ends; one that owns none consumes one", async () => {
    const one = await open();
    await putIn(freshPath(), one.session);
    let before = await storeRev();
    expect(await json(await endSession(one.session))).toEqual({ session: one.session, rev: before + 1 });
    expect(await storeRev()).toBe(before + 1);

    const none = await open();
    before = await storeRev();
    expect(await json(await endSession(none.session))).toEqual({ session: none.session, rev: before + 1 });
    expect(await storeRev()).toBe(before + 1);
  });

  it("keepalive, GET and DELETE of an ended or unknown session are 404 NOSESSION and consume no rev", async () => {
    const s = await open();
    expect((await endSession(s.session)).status).toBe(200);
    const before = await storeRev();
    for (const id of [s.session, "never-opened-1234"]) {
      await expectError(await keepalive(id), 404, "NOSESSION");
      await expectError(await getSession(id), 404, "NOSESSION");
      await expectError(await endSession(id), 404, "NOSESSION");
    }
    const w = await openSocket();
    for (const id of [s.session, "never-opened-1234"]) {
      for (const verb of ["KEEPALIVE", "ENDSESSION", "SESSION"]) {
        expect(codeOf(await w.ask({ verb, session: id }))).toBe("NOSESSION");
      }
    }
    w.ws.close();
    expect(await storeRev()).toBe(before);
  });

  it("a keepalive answers {session, ttl} and consumes no rev", async () => {
    const s = await open(2000);
    const before = await storeRev();
    const response = await keepalive(s.session);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ session: s.session, ttl: 2000 });
    const w = await openSocket();
    const answer = await w.ask({ verb: "KEEPALIVE", session: s.session });
    expect(answer).toEqual({ id: answer.id, session: s.session, ttl: 2000 });
    w.ws.close();
    expect(await storeRev()).toBe(before);
    await endSession(s.session);
  });

  it("a SET under a session that is not alive is NOSESSION, before any other check, and consumes its rev", async () => {
    const s = await open();
    const path = freshPath();
    await write(path, "one");
    expect((await endSession(s.session)).status).toBe(200);
    for (const [target, rev] of [
      [freshPath(), "-1"],
      [path, "0"], // would be REV_MISMATCH
      [path.slice(0, path.lastIndexOf("/")), "-1"], // a directory: would be ISDIR
      [`${path}/below`, "-1"], // below a file: would be NOTDIR
    ] as const) {
      const before = await storeRev();
      const response = await api(`/v1/files${target}?rev=${rev}&session=${s.session}`, {
        method: "PUT",
        body: "x",
      });
      const error = await expectError(response, 404, "NOSESSION");
      expect(error.storeRev).toBe(before + 1);
      expect(await storeRev()).toBe(before + 1);
    }
    expect(await text(await api(`/v1/files${path}`))).toBe("one");
    // Over the socket too.
    const w = await openSocket();
    const before = await storeRev();
    const answer = await w.ask({ verb: "SET", path, rev: 0, value: "x", session: "never-opened-5678" });
    expect(codeOf(answer)).toBe("NOSESSION");
    expect((answer.error as ErrorFields).storeRev).toBe(before + 1);
    w.ws.close();
  });

  it("a SET without session makes an ephemeral file persistent again; ending the session leaves it", async () => {
    const s = await open();
    const path = freshPath();
    await putIn(path, s.session, "eph");
    expect((await api(`/v1/files${path}`)).headers.get("Doozer-Session")).toBe(s.session);
    const rev = await write(path, "pers");
    const got = await api(`/v1/files${path}`);
    expect(got.headers.get("Doozer-Session")).toBeNull();
    expect(got.headers.get("Doozer-Rev")).toBe(String(rev));
    expect((await json<{ files: string[] }>(await getSession(s.session))).files).toEqual([]);
    const before = await storeRev();
    expect(await json(await endSession(s.session))).toEqual({ session: s.session, rev: before + 1 });
    expect(await text(await api(`/v1/files${path}`))).toBe("pers");
  });

  it("a SET under another session moves the file to it", async () => {
    const a = await open();
    const b = await open();
    const path = freshPath();
    await putIn(path, a.session, "a");
    await putIn(path, b.session, "b");
    expect((await json<{ files: string[] }>(await getSession(a.session))).files).toEqual([]);
    expect((await json<{ files: string[] }>(await getSession(b.session))).files).toEqual([path]);
    expect((await api(`/v1/stat${path}`)).ok).toBe(true);
    expect((await json(await api(`/v1/stat${path}`))).session).toBe(b.session);
    await endSession(a.session);
    expect(await text(await api(`/v1/files${path}`))).toBe("b");
    await endSession(b.session);
    expect((await api(`/v1/files${path}`)).status).toBe(404);
  });

  it("DEL of an ephemeral file works as for any file, and the session no longer owns it", async () => {
    const s = await open();
    const path = freshPath();
    const rev = await putIn(path, s.session);
    const response = await del(path, rev);
    expect(response.status).toBe(200);
    expect((await json<{ files: string[] }>(await getSession(s.session))).files).toEqual([]);
    const before = await storeRev();
    expect(await json(await endSession(s.session))).toEqual({ session: s.session, rev: before + 1 });
  });

  it("GET /v1/sessions/<id> lists the owned paths in bytewise order", async () => {
    const s = await open(60_000);
    const dir = freshPath("g");
    for (const name of ["b", "B", "a", "-", "0"]) await putIn(`${dir}/${name}`, s.session);
    const body = await json(await getSession(s.session));
    expect(body).toEqual({
      session: s.session,
      ttl: 60_000,
      files: ["-", "0", "B", "a", "b"].map((n) => `${dir}/${n}`),
    });
    await endSession(s.session);
  });
});

// --- Reads show the owner ---

describe("reads show the owner at the rev read", () => {
  it("GET, STAT, WALK, WAIT and WATCH carry session for an ephemeral file and no field for a persistent one", async () => {
    const s = await open();
    const dir = freshPath("r");
    const eph = `${dir}/e`;
    const pers = `${dir}/p`;
    const w = await openSocket();
    expect((await w.ask({ verb: "WATCH", glob: `${dir}/*` })).watching).toBe(true);
    const watchId = w.nextId() - 1;
    const ephRev = await putIn(eph, s.session, "E");
    const persRev = await write(pers, "P");

    const getE = await api(`/v1/files${eph}`);
    expect(getE.headers.get("Doozer-Session")).toBe(s.session);
    const getP = await api(`/v1/files${pers}`);
    expect(getP.headers.get("Doozer-Session")).toBeNull();

    const statE = await json(await api(`/v1/stat${eph}`));
    expect(statE.session).toBe(s.session);
    const statP = await json(await api(`/v1/stat${pers}`));
    expect("session" in statP).toBe(false);

    const walk = await json<{ files: Frame[] }>(await api(`/v1/walk?glob=${dir}/*`));
    expect(walk.files).toEqual([
      { path: eph, rev: ephRev, value: "E", session: s.session },
      { path: pers, rev: persRev, value: "P" },
    ]);

    const waitE = await json(await api(`/v1/wait?glob=${dir}/*&rev=${ephRev}`));
    expect(waitE).toEqual({ path: eph, rev: ephRev, value: "E", op: "set", session: s.session });
    const waitP = await json(await api(`/v1/wait?glob=${dir}/*&rev=${ephRev + 1}`));
    expect(waitP).toEqual({ path: pers, rev: persRev, value: "P", op: "set" });

    await until(() => w.events(watchId).length >= 2, "two events");
    expect(w.events(watchId)).toEqual([
      { path: eph, rev: ephRev, value: "E", op: "set", session: s.session },
      { path: pers, rev: persRev, value: "P", op: "set" },
    ]);

    // WebSocket GET, STAT and WALK.
    const gE = await w.ask({ verb: "GET", path: eph });
    expect(gE.session).toBe(s.session);
    const gP = await w.ask({ verb: "GET", path: pers });
    expect("session" in gP).toBe(false);
    expect((await w.ask({ verb: "STAT", path: eph })).session).toBe(s.session);
    expect("session" in (await w.ask({ verb: "STAT", path: pers }))).toBe(false);
    const wWalk = await w.ask({ verb: "WALK", glob: `${dir}/*` });
    expect((wWalk.files as Frame[]).map((f) => f.session)).toEqual([s.session, undefined]);
    const wWait = await w.ask({ verb: "WAIT", glob: `${dir}/*`, rev: ephRev });
    expect(wWait.session).toBe(s.session);

    // At a past rev: the owner then, not now.
    const moved = await write(eph, "now persistent");
    expect((await api(`/v1/files${eph}?rev=${ephRev}`)).headers.get("Doozer-Session")).toBe(s.session);
    expect((await api(`/v1/files${eph}?rev=${moved}`)).headers.get("Doozer-Session")).toBeNull();
    expect((await json(await api(`/v1/stat${eph}?rev=${ephRev}`))).session).toBe(s.session);
    w.ws.close();
    await endSession(s.session);
  });
});

// --- Over the WebSocket ---

describe("sessions over the WebSocket", () => {
  it("SESSION opens (one rev), SET takes session, ENDSESSION answers as DELETE", async () => {
    const w = await openSocket();
    const before = await storeRev();
    const opened = await w.ask({ verb: "SESSION", ttl: 5000 });
    expect(Object.keys(opened).sort()).toEqual(["id", "rev", "session", "ttl"]);
    expect(opened.ttl).toBe(5000);
    expect(opened.rev).toBe(before + 1);
    const session = String(opened.session);
    expect(session).toMatch(idPattern);
    const dflt = await w.ask({ verb: "SESSION" });
    expect(dflt.ttl).toBe(15_000);
    const path = freshPath();
    const set = await w.ask({ verb: "SET", path, rev: 0, value: "x", session });
    expect(set.rev).toBe(before + 3);
    expect((await api(`/v1/files${path}`)).headers.get("Doozer-Session")).toBe(session);
    const ended = await w.ask({ verb: "ENDSESSION", session });
    expect(ended).toEqual({ id: ended.id, session, rev: before + 4 });
    expect((await api(`/v1/files${path}`)).status).toBe(404);
    expect(codeOf(await w.ask({ verb: "ENDSESSION", session }))).toBe("NOSESSION");
    await w.ask({ verb: "ENDSESSION", session: dflt.session });
    w.ws.close();
  });

  it("SESSION with session attaches an open one: {id, session, ttl}, no rev", async () => {
    const s = await open(4000);
    const w = await openSocket();
    const before = await storeRev();
    const answer = await w.ask({ verb: "SESSION", session: s.session });
    expect(answer).toEqual({ id: answer.id, session: s.session, ttl: 4000 });
    expect(await storeRev()).toBe(before);
    w.ws.close();
    await endSession(s.session);
  });

  it("ping is answered pong, on any socket", async () => {
    const w = await openSocket();
    await w.ping();
    await w.ping();
    expect(w.frames).toEqual([]);
    expect(w.isClosed()).toBe(false);
    w.ws.close();
  });
});

// --- Expiry ---

describe("the session keeper's role moves while a majority is up", () => {
  // acceptor-1 is the preferred keeper (DOOZER_LEADER). With it down, another acceptor takes
  // the role (server/keeper-role.ts): keepalives keep working, and sessions still expire.
  it("with the preferred keeper down, keepalives answer and a session ends by itself within 2 × ttl + 5 s", async () => {
    const ttl = 1000;
    const kept = await open(ttl);
    expect((await keepalive(kept.session)).status).toBe(200);
    await setFault("acceptor-1", "down");
    try {
      const before = await storeRev();
      const sent = Date.now();
      const s = await open(ttl);
      const path = freshPath();
      await putIn(path, s.session);
      // The other session is kept alive all along, through the takeover.
      let keptAnswers = 0;
      let lastKeptOk = Date.now();
      const deadline = sent + 2 * ttl + 5000;
      let endedAt: number | undefined;
      while (Date.now() < deadline + 2000) {
        const answer = await keepalive(kept.session);
        if (answer.status === 200) {
          keptAnswers++;
          lastKeptOk = Date.now();
        }
        await answer.body?.cancel();
        if (endedAt === undefined && !(await alive(s.session))) endedAt = Date.now();
        if (endedAt !== undefined && keptAnswers >= 5) break;
        await sleep(ttl / 4);
      }
      expect(endedAt).toBeDefined();
      expect(endedAt as number).toBeLessThanOrEqual(deadline + 500);
      expect(endedAt as number).toBeGreaterThanOrEqual(sent + ttl);
      expect((await api(`/v1/files${path}`)).status).toBe(404);
      expect(keptAnswers).toBeGreaterThanOrEqual(5);
      expect(Date.now() - lastKeptOk).toBeLessThan(ttl);
      expect(await alive(kept.session)).toBe(true);
      // The takeover itself consumed no rev: the open, the SET and the end's one delete.
      expect(await storeRev()).toBe(before + 3);
    } finally {
      await healAll();
    }
    // Back up, acceptor-1 finds the role held and points keepalives at its holder.
    for (let i = 0; i < 5; i++) {
      expect((await keepalive(kept.session)).status).toBe(200);
      await sleep(200);
    }
    await endSession(kept.session);
  }, 40_000);
});

describe("expiry", () => {
  it("a session with no keepalive ends by itself within 2 × ttl + 5 s, not before ttl; its files go", async () => {
    const ttl = 1000;
    const sent = Date.now();
    const s = await open(ttl);
    const path = freshPath();
    await putIn(path, s.session);
    // Never early: alive at every check answered before ttl since the open was sent.
    for (;;) {
      const probe = await alive(s.session);
      if (Date.now() >= sent + ttl) break;
      expect(probe).toBe(true);
      await sleep(100);
    }
    const deadline = sent + 2 * ttl + 5000;
    let endedAt: number | undefined;
    while (Date.now() < deadline + 2000) {
      if (!(await alive(s.session))) {
        endedAt = Date.now();
        break;
      }
      await sleep(200);
    }
    expect(endedAt).toBeDefined();
    // The answer that showed it ended arrived within the bound (and its read started before).
    expect(endedAt as number).toBeLessThanOrEqual(deadline + 500);
    expect((await api(`/v1/files${path}`)).status).toBe(404);
    await expectError(await keepalive(s.session), 404, "NOSESSION");
  }, 30_000);

  it("keepalives every ttl / 3 keep it alive for 3 × ttl; then it ends by itself", async () => {
    const ttl = 1500;
    const s = await open(ttl);
    const path = freshPath();
    await putIn(path, s.session);
    const start = Date.now();
    let lastSent = start;
    while (Date.now() - start < 3 * ttl) {
      await sleep(ttl / 3);
      lastSent = Date.now();
      const response = await keepalive(s.session);
      expect(response.status).toBe(200);
      await response.body?.cancel();
      expect(await alive(s.session)).toBe(true);
    }
    expect(await text(await api(`/v1/files${path}`))).toBe("v");
    // Never early after the last answered keepalive.
    while (Date.now() < lastSent + ttl - 100) {
      const probe = await alive(s.session);
      if (Date.now() < lastSent + ttl) expect(probe).toBe(true);
      await sleep(100);
    }
    const deadline = lastSent + 2 * ttl + 5000;
    let ended = false;
    while (Date.now() < deadline + 500 && !ended) {
      ended = !(await alive(s.session));
      if (!ended) await sleep(200);
    }
    expect(ended).toBe(true);
    expect((await api(`/v1/files${path}`)).status).toBe(404);
  }, 30_000);

  it("a socket's ping frames keep its sessions alive; closed, the session lives on until ttl and can be attached again", async () => {
    const ttl = 1500;
    const first = await openSocket();
    const opened = await first.ask({ verb: "SESSION", ttl });
    const session = String(opened.session);
    const path = freshPath();
    expect((await first.ask({ verb: "SET", path, rev: 0, value: "s", session })).rev).toBeTypeOf("number");
    const start = Date.now();
    while (Date.now() - start < 3 * ttl) {
      await sleep(ttl / 3);
      await first.ping();
    }
    expect(await alive(session)).toBe(true);
    const closedAt = Date.now();
    first.ws.close();
    await sleep(ttl / 2);
    // Still alive (well within ttl of the last ping), and another socket attaches it.
    const second = await openSocket();
    const attached = await second.ask({ verb: "SESSION", session });
    expect(attached).toEqual({ id: attached.id, session, ttl });
    expect(Date.now() - closedAt).toBeLessThan(ttl + 2000);
    const again = Date.now();
    while (Date.now() - again < 3 * ttl) {
      await sleep(ttl / 3);
      await second.ping();
    }
    expect(await alive(session)).toBe(true);
    expect(await text(await api(`/v1/files${path}`))).toBe("s");
    // Closed for good: it ends within 2 × ttl + 5 s by itself.
    const lastPing = Date.now();
    second.ws.close();
    let ended = false;
    while (Date.now() < lastPing + 2 * ttl + 5500 && !ended) {
      ended = !(await alive(session));
      if (!ended) await sleep(200);
    }
    expect(ended).toBe(true);
    expect((await api(`/v1/files${path}`)).status).toBe(404);
  }, 40_000);

  it("a SET that names the session does not keep it alive", async () => {
    const ttl = 1000;
    const s = await open(ttl);
    const path = freshPath();
    const opened = Date.now();
    let ended = false;
    while (Date.now() < opened + 2 * ttl + 5500 && !ended) {
      const response = await api(`/v1/files${path}?rev=-1&session=${s.session}`, {
        method: "PUT",
        body: "x",
      });
      if (response.status === 404) {
        expect(((await response.json()) as { error: ErrorFields }).error.code).toBe("NOSESSION");
        ended = true;
      } else {
        expect(response.status).toBe(200);
        await response.body?.cancel();
        await sleep(ttl / 4);
      }
    }
    expect(ended).toBe(true);
    expect(await alive(s.session)).toBe(false);
  }, 20_000);

  it("other frames on the socket keep its sessions alive too", async () => {
    const ttl = 1200;
    const w = await openSocket();
    const session = String((await w.ask({ verb: "SESSION", ttl })).session);
    const start = Date.now();
    while (Date.now() - start < 3 * ttl) {
      await sleep(ttl / 3);
      expect((await w.ask({ verb: "REV" })).rev).toBeTypeOf("number");
    }
    expect(await alive(session)).toBe(true);
    await w.ask({ verb: "ENDSESSION", session });
    w.ws.close();
  }, 20_000);
});
