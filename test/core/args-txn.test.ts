// Arguments of sessions and transactions (SPEC §6, §7) refused before they
// are decided, each with its code.

import { describe, expect, it } from "vitest";
import * as args from "../../core/args";
import { CodedError } from "../../core/errors";
import { txnBytesMax, valueBytesMax } from "../../core/limits";

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof CodedError) return error.code;
    throw error;
  }
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe("session ids", () => {
  it.each(["a", "A-z_09", "x".repeat(64)])("accepts %j", (id) => {
    expect(args.sessionId(id)).toBe(id);
  });

  it.each(["", "x".repeat(65), "a.b", "a/b", "é", " a", 7, null, undefined, {}].map((id) => [id]))(
    "refuses %j with BAD_REQUEST",
    (id) => {
      expect(codeOf(() => args.sessionId(id))).toBe("BAD_REQUEST");
    },
  );

  it("on a SET: absent is a persistent file, empty is BAD_REQUEST", () => {
    expect(args.optionalSessionId(undefined)).toBeUndefined();
    expect(args.optionalSessionId(null)).toBeUndefined();
    expect(args.optionalSessionId("S")).toBe("S");
    expect(codeOf(() => args.optionalSessionId(""))).toBe("BAD_REQUEST");
  });
});

describe("session ttl", () => {
  it.each([
    [undefined, 15_000],
    [null, 15_000],
    ["1000", 1000],
    [3_600_000, 3_600_000],
    ["20000", 20_000],
  ])("%j → %i", (raw, ttlMs) => {
    expect(args.sessionTtlMs(raw)).toBe(ttlMs);
  });

  it.each([999, 3_600_001, "0", "-1000", "1.5e3", 1500.5, "abc", "", true])("%j → RANGE", (raw) => {
    expect(codeOf(() => args.sessionTtlMs(raw))).toBe("RANGE");
  });
});

describe("a transaction body", () => {
  it("parses the SPEC's example", () => {
    const body = {
      checks: [{ path: "/app/owner", rev: 12 }],
      ops: [
        { op: "set", path: "/app/config", rev: -1, value: "v2" },
        { op: "set", path: "/app/lease", rev: 0, value: "eA==", encoding: "base64", session: "S" },
        { op: "del", path: "/app/old", rev: -1 },
      ],
    };
    expect(args.txnBody(body)).toEqual({
      checks: [{ path: "/app/owner", rev: 12 }],
      ops: [
        { op: "set", path: "/app/config", rev: -1, value: bytes("v2") },
        { op: "set", path: "/app/lease", rev: 0, value: bytes("x"), session: "S" },
        { op: "del", path: "/app/old", rev: -1 },
      ],
    });
  });

  it("takes checks only, ops only, and an op rev as decimal text", () => {
    expect(args.txnBody({ checks: [{ path: "/a", rev: 0 }] })).toEqual({
      checks: [{ path: "/a", rev: 0 }],
      ops: [],
    });
    expect(args.txnBody({ ops: [{ op: "del", path: "/a", rev: "7" }] }).ops).toEqual([
      { op: "del", path: "/a", rev: 7 },
    ]);
  });

  const many = (count: number, item: unknown) => Array.from({ length: count }, () => item);
  const check = { path: "/a", rev: 0 };
  const op = { op: "del", path: "/a", rev: -1 };

  it("takes exactly 100 checks and 100 ops", () => {
    const parsed = args.txnBody({ checks: many(100, check), ops: many(100, op) });
    expect(parsed.checks).toHaveLength(100);
    expect(parsed.ops).toHaveLength(100);
  });

  const refused: [string, unknown, string][] = [
    ["not an object", [], "BAD_REQUEST"],
    ["null", null, "BAD_REQUEST"],
    ["a string", "{}", "BAD_REQUEST"],
    ["empty", {}, "BAD_REQUEST"],
    ["empty lists", { checks: [], ops: [] }, "BAD_REQUEST"],
    ["checks not a list", { checks: { path: "/a", rev: 0 } }, "BAD_REQUEST"],
    ["ops not a list", { ops: "set" }, "BAD_REQUEST"],
    ["101 checks", { checks: many(101, check) }, "TOO_LARGE"],
    ["101 ops", { ops: many(101, op) }, "TOO_LARGE"],
    ["a check that is no object", { checks: [3] }, "BAD_REQUEST"],
    ["a check without a rev", { checks: [{ path: "/a" }] }, "MISSING_ARG"],
    ["a check with rev -1", { checks: [{ path: "/a", rev: -1 }] }, "BAD_REQUEST"],
    ["a check with rev -2", { checks: [{ path: "/a", rev: -2 }] }, "BAD_REQUEST"],
    ["a check with a fractional rev", { checks: [{ path: "/a", rev: 1.5 }] }, "BAD_REQUEST"],
    ["a check with a rev as text", { checks: [{ path: "/a", rev: "3" }] }, "BAD_REQUEST"],
    ["a check with a rev past 2^53", { checks: [{ path: "/a", rev: 2 ** 53 + 2 }] }, "BAD_REQUEST"],
    ["a check without a path", { checks: [{ rev: 0 }] }, "MISSING_ARG"],
    ["a check with a malformed path", { checks: [{ path: "/a/", rev: 0 }] }, "BAD_PATH"],
    ["a check with a path that is no string", { checks: [{ path: 5, rev: 0 }] }, "BAD_PATH"],
    ["an op that is no object", { ops: [null] }, "BAD_REQUEST"],
    ["an unknown op", { ops: [{ op: "put", path: "/a", rev: 0, value: "" }] }, "BAD_REQUEST"],
    ["an op without op", { ops: [{ path: "/a", rev: 0 }] }, "BAD_REQUEST"],
    ["an op without a rev", { ops: [{ op: "del", path: "/a" }] }, "MISSING_ARG"],
    ["an op with a malformed rev", { ops: [{ op: "del", path: "/a", rev: "x" }] }, "MISSING_ARG"],
    ["an op with an object rev", { ops: [{ op: "del", path: "/a", rev: {} }] }, "MISSING_ARG"],
    ["an op with a malformed path", { ops: [{ op: "del", path: "a", rev: 0 }] }, "BAD_PATH"],
    ["an op with a path with ..", { ops: [{ op: "del", path: "/a/..", rev: 0 }] }, "BAD_PATH"],
    ["a set without a value", { ops: [{ op: "set", path: "/a", rev: 0 }] }, "MISSING_ARG"],
    ["a set with a number value", { ops: [{ op: "set", path: "/a", rev: 0, value: 5 }] }, "BAD_REQUEST"],
    [
      "a set with bad base64",
      { ops: [{ op: "set", path: "/a", rev: 0, value: "!!!", encoding: "base64" }] },
      "BAD_REQUEST",
    ],
    [
      "a set with an unknown encoding",
      { ops: [{ op: "set", path: "/a", rev: 0, value: "x", encoding: "hex" }] },
      "MISSING_ARG",
    ],
    [
      "a set with an empty session",
      { ops: [{ op: "set", path: "/a", rev: 0, value: "x", session: "" }] },
      "BAD_REQUEST",
    ],
    [
      "a set with a value one byte over",
      { ops: [{ op: "set", path: "/a", rev: 0, value: "x".repeat(valueBytesMax + 1) }] },
      "TOO_LARGE",
    ],
    [
      "a set with a base64 value one byte over",
      {
        ops: [
          {
            op: "set",
            path: "/a",
            rev: 0,
            value: btoa("x".repeat(valueBytesMax + 1)),
            encoding: "base64",
          },
        ],
      },
      "TOO_LARGE",
    ],
    [
      "a set with a UTF-8 value one byte over",
      { ops: [{ op: "set", path: "/a", rev: 0, value: `${"x".repeat(valueBytesMax - 1)}é` }] },
      "TOO_LARGE",
    ],
    [
      "values that together do not fit one Paxos slot",
      {
        ops: [
          { op: "set", path: "/a", rev: 0, value: "x".repeat(valueBytesMax) },
          { op: "set", path: "/b", rev: 0, value: "x".repeat(txnBytesMax - valueBytesMax) },
        ],
      },
      "TOO_LARGE",
    ],
  ];

  it.each(refused)("refuses %s with %s", (_, body, code) => {
    expect(codeOf(() => args.txnBody(body))).toBe(code);
  });

  it("accepts a value of exactly valueBytesMax, and a whole of exactly txnBytesMax", () => {
    expect(
      args.txnBody({ ops: [{ op: "set", path: "/a", rev: 0, value: "x".repeat(valueBytesMax) }] }).ops,
    ).toHaveLength(1);
    const fill = txnBytesMax - valueBytesMax - 4;
    expect(
      args.txnBody({
        ops: [
          { op: "set", path: "/a", rev: 0, value: "x".repeat(valueBytesMax) },
          { op: "set", path: "/b", rev: 0, value: "x".repeat(fill) },
        ],
      }).ops,
    ).toHaveLength(2);
  });

  it("reports the first error in body order", () => {
    const body = { checks: [{ path: "/a", rev: -1 }], ops: [{ op: "nope" }] };
    expect(codeOf(() => args.txnBody(body))).toBe("BAD_REQUEST");
    let message = "";
    try {
      args.txnBody({
        ops: [
          { op: "del", path: "/a", rev: 0 },
          { op: "del", path: "bad", rev: 0 },
        ],
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("bad");
  });
});
