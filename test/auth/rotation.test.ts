// Token rotation: DOOZER_RWSECRET and DOOZER_ROSECRET each hold several tokens,
// comma-separated, all valid at once (the project sets two of each, with a
// space and a trailing comma to show how they are read).

import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { accessFor, type SecretVars, secretsFrom, tokenList } from "../../server/auth";

const base = "http://doozer.test";

function put(token: string | undefined): Promise<Response> {
  return SELF.fetch(`${base}/v1/files/rotation/f?rev=-1`, {
    method: "PUT",
    body: "v",
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
}

async function code(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

describe("several tokens per secret", () => {
  it("lets every read-write token write", async () => {
    expect((env as SecretVars).DOOZER_RWSECRET).toContain(",");
    for (const token of ["rw-secret-for-tests", "rw-secret-next"])
      expect((await put(token)).status).toBe(200);
  });

  it("lets every read-only token read and none write", async () => {
    for (const token of ["ro-secret-for-tests", "ro-secret-next"]) {
      const read = await SELF.fetch(`${base}/v1/rev`, { headers: { Authorization: `Bearer ${token}` } });
      expect(read.status).toBe(200);
      expect(await code(await put(token))).toBe("READONLY");
    }
  });

  it("takes no token for the list, a part of one, one with spaces, or an empty one", async () => {
    for (const token of [
      "rw-secret-for-tests, rw-secret-next",
      "rw-secret-for-tests,",
      " rw-secret-next",
      "rw-secret",
      "",
      undefined,
    ]) {
      expect(await code(await put(token)), JSON.stringify(token)).toBe("UNAUTHORIZED");
    }
  });

  it("reads the same tokens over WebSocket ACCESS", async () => {
    const response = await SELF.fetch(`${base}/v1/ws?token=rw-secret-next`, {
      headers: { Upgrade: "websocket" },
    });
    expect(response.status).toBe(101);
    response.webSocket?.accept();
    response.webSocket?.close();
  });
});

describe("reading a secret", () => {
  it("splits on commas, trims, and drops empty entries", () => {
    expect(tokenList("a, b ,,c,")).toEqual(["a", "b", "c"]);
    expect(tokenList(" , ")).toEqual([]);
    expect(tokenList(undefined)).toEqual([]);
  });

  it("treats a secret of commas and spaces as no secret at all", async () => {
    expect(secretsFrom({ DOOZER_RWSECRET: " , " }).mode).toBe("open");
    expect(secretsFrom({ DOOZER_RWSECRET: " , ", DOOZER_ENV: "production" }).mode).toBe("refused");
    expect(secretsFrom({ DOOZER_ENV: "production", DOOZER_OPEN: "1" }).mode).toBe("open");
  });

  it("gives each token its access, the read-write one first when a token is in both", async () => {
    const secrets = secretsFrom({ DOOZER_RWSECRET: "one,two", DOOZER_ROSECRET: "two,three" });
    expect(await accessFor("one", secrets)).toBe("read-write");
    expect(await accessFor("two", secrets)).toBe("read-write");
    expect(await accessFor("three", secrets)).toBe("read-only");
    await expect(accessFor("four", secrets)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });
});
