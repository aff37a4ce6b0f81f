import { describe, expect, it } from "vitest";
import {
  ClusterConfigError,
  type ClusterVars,
  locationHints,
  parseClusterConfig,
} from "../../core/cluster-config";

/** The error parseClusterConfig throws for `vars`; fails the test if it throws none. */
function refusal(vars: ClusterVars): ClusterConfigError {
  try {
    parseClusterConfig(vars);
  } catch (error) {
    if (error instanceof ClusterConfigError) return error;
    throw error;
  }
  throw new Error(`parseClusterConfig accepted ${JSON.stringify(vars)}`);
}

describe("parseClusterConfig: what it accepts", () => {
  it("reads no variables as the documented defaults", () => {
    expect(parseClusterConfig({})).toEqual({
      acceptors: [
        { name: "acceptor-0", location: "wnam" },
        { name: "acceptor-1", location: "enam" },
        { name: "acceptor-2", location: "weur" },
        { name: "acceptor-3", location: "apac" },
        { name: "acceptor-4", location: "oc" },
      ],
      historyRevs: 2000,
      storeBytesMax: 1024 * 1024 * 1024,
      logSlotsKept: 10_000,
      faultsEnabled: false,
      writeTimeoutMs: 4000,
      rpcTimeoutMs: 1000,
      retryMs: 400,
      writeRoute: "leader",
      leader: "acceptor-1",
      leaderFollows: true,
      leaderWindowWrites: 50,
      leaderTermMs: 10_000,
    });
  });

  it("reads every setting given", () => {
    const config = parseClusterConfig({
      DOOZER_ACCEPTORS: "7",
      DOOZER_LOCATIONS: "sam, eeur ,afr,me,apac-ne,apac-se,wnam",
      DOOZER_HISTORY_REVS: "5000",
      DOOZER_STORE_BYTES_MAX: "65536",
      DOOZER_LOG_SLOTS_KEPT: "3",
      DOOZER_FAULTS: "1",
      DOOZER_WRITE_TIMEOUT_MS: "1500",
      DOOZER_RPC_TIMEOUT_MS: "0500",
      DOOZER_WRITE_ROUTE: "worker",
      DOOZER_LEADER: "acceptor-6",
      DOOZER_LEADER_FOLLOWS: "0",
      DOOZER_LEADER_WINDOW_WRITES: "20",
      DOOZER_LEADER_TERM_MS: "2500",
    });
    expect([config.leaderFollows, config.leaderWindowWrites, config.leaderTermMs]).toEqual([false, 20, 2500]);
    expect(config.acceptors.map((a) => `${a.name}@${a.location}`)).toEqual([
      "acceptor-0@sam",
      "acceptor-1@eeur",
      "acceptor-2@afr",
      "acceptor-3@me",
      "acceptor-4@apac-ne",
      "acceptor-5@apac-se",
      "acceptor-6@wnam",
    ]);
    expect(config).toMatchObject({
      historyRevs: 5000,
      storeBytesMax: 65536,
      logSlotsKept: 3,
      faultsEnabled: true,
      writeTimeoutMs: 1500,
      rpcTimeoutMs: 500,
      writeRoute: "worker",
      leader: "acceptor-6",
    });
  });

  it("takes the first default hints for a smaller cluster, and its leader from among them", () => {
    const config = parseClusterConfig({ DOOZER_ACCEPTORS: "3" });
    expect(config.acceptors.map((a) => a.location)).toEqual(["wnam", "enam", "weur"]);
    expect(config.leader).toBe("acceptor-1");
    expect(parseClusterConfig({ DOOZER_ACCEPTORS: "1" }).leader).toBe("acceptor-0");
  });

  it("accepts a cluster with an acceptor at every hint there is", () => {
    const config = parseClusterConfig({
      DOOZER_ACCEPTORS: String(locationHints.length),
      DOOZER_LOCATIONS: locationHints.join(","),
    });
    expect(config.acceptors.map((a) => a.location)).toEqual(locationHints);
  });

  it("reads the fault switch as off unless it is exactly 1", () => {
    expect(parseClusterConfig({ DOOZER_FAULTS: "0" }).faultsEnabled).toBe(false);
    expect(parseClusterConfig({ DOOZER_FAULTS: "" }).faultsEnabled).toBe(false);
    expect(parseClusterConfig({ DOOZER_FAULTS: "1" }).faultsEnabled).toBe(true);
  });
});

describe("parseClusterConfig: what it refuses, naming the setting", () => {
  it.each<[string, ClusterVars, keyof ClusterVars, RegExp]>([
    [
      "an unknown hint",
      { DOOZER_LOCATIONS: "wnam,enam,weur,apac,mars" },
      "DOOZER_LOCATIONS",
      /"mars" is not a location hint; the hints are wnam enam sam/,
    ],
    [
      "a hint in capitals",
      { DOOZER_LOCATIONS: "WNAM,enam,weur,apac,oc" },
      "DOOZER_LOCATIONS",
      /"WNAM" is not a location hint/,
    ],
    [
      "a duplicate hint",
      { DOOZER_LOCATIONS: "wnam,enam,weur,enam,oc" },
      "DOOZER_LOCATIONS",
      /"enam" is listed twice/,
    ],
    ["an empty entry", { DOOZER_LOCATIONS: "wnam,enam,,apac,oc" }, "DOOZER_LOCATIONS", /entry 3 .* is empty/],
    [
      "a trailing comma",
      { DOOZER_LOCATIONS: "wnam,enam,weur,apac,oc," },
      "DOOZER_LOCATIONS",
      /entry 6 .* is empty/,
    ],
    [
      "fewer hints than acceptors",
      { DOOZER_ACCEPTORS: "5", DOOZER_LOCATIONS: "wnam,enam,weur" },
      "DOOZER_LOCATIONS",
      /lists 3 hints, but DOOZER_ACCEPTORS is 5;/,
    ],
    [
      "more hints than acceptors",
      { DOOZER_ACCEPTORS: "3", DOOZER_LOCATIONS: "wnam,enam,weur,apac,oc" },
      "DOOZER_LOCATIONS",
      /lists 5 hints, but DOOZER_ACCEPTORS is 3;/,
    ],
    [
      "hints that disagree with the default count",
      { DOOZER_LOCATIONS: "wnam,enam,weur" },
      "DOOZER_LOCATIONS",
      /DOOZER_ACCEPTORS is 5 \(its default\)/,
    ],
    [
      "more acceptors than default hints",
      { DOOZER_ACCEPTORS: "7" },
      "DOOZER_LOCATIONS",
      /is unset .* fewer than the 7 acceptors/,
    ],
    [
      "an even count",
      { DOOZER_ACCEPTORS: "4", DOOZER_LOCATIONS: "wnam,enam,weur,apac" },
      "DOOZER_ACCEPTORS",
      /4 is even; .* Use 3 or 5/,
    ],
    ["an even count with the default hints", { DOOZER_ACCEPTORS: "2" }, "DOOZER_ACCEPTORS", /2 is even/],
    ["a zero count", { DOOZER_ACCEPTORS: "0" }, "DOOZER_ACCEPTORS", /positive integer/],
    [
      "a fractional count",
      { DOOZER_ACCEPTORS: "5.0" },
      "DOOZER_ACCEPTORS",
      /positive integer in decimal digits, not "5.0"/,
    ],
    ["a count in exponent notation", { DOOZER_ACCEPTORS: "5e0" }, "DOOZER_ACCEPTORS", /not "5e0"/],
    ["a count in hex", { DOOZER_ACCEPTORS: "0x5" }, "DOOZER_ACCEPTORS", /not "0x5"/],
    ["a count with spaces", { DOOZER_ACCEPTORS: " 5" }, "DOOZER_ACCEPTORS", /not " 5"/],
    ["a negative timeout", { DOOZER_WRITE_TIMEOUT_MS: "-1" }, "DOOZER_WRITE_TIMEOUT_MS", /positive integer/],
    ["a fractional timeout", { DOOZER_RPC_TIMEOUT_MS: "250.5" }, "DOOZER_RPC_TIMEOUT_MS", /positive integer/],
    ["a unit in a timeout", { DOOZER_WRITE_TIMEOUT_MS: "4s" }, "DOOZER_WRITE_TIMEOUT_MS", /not "4s"/],
    [
      "a number past 2^53",
      { DOOZER_HISTORY_REVS: "99999999999999999999" },
      "DOOZER_HISTORY_REVS",
      /positive integer/,
    ],
    [
      "a history window under the minimum",
      { DOOZER_HISTORY_REVS: "1999" },
      "DOOZER_HISTORY_REVS",
      /at least 2000, not 1999/,
    ],
    ["a fault switch spelt true", { DOOZER_FAULTS: "true" }, "DOOZER_FAULTS", /must be 1 .* not "true"/],
    ["an unknown write route", { DOOZER_WRITE_ROUTE: "nearest" }, "DOOZER_WRITE_ROUTE", /worker or leader/],
    ["leader-follows spelt yes", { DOOZER_LEADER_FOLLOWS: "yes" }, "DOOZER_LEADER_FOLLOWS", /1 \(on\) or 0/],
    [
      "a window of no writes",
      { DOOZER_LEADER_WINDOW_WRITES: "0" },
      "DOOZER_LEADER_WINDOW_WRITES",
      /positive/,
    ],
    ["a tenure in seconds", { DOOZER_LEADER_TERM_MS: "10s" }, "DOOZER_LEADER_TERM_MS", /positive integer/],
    [
      "a leader outside the set",
      { DOOZER_ACCEPTORS: "3", DOOZER_LEADER: "acceptor-3" },
      "DOOZER_LEADER",
      /"acceptor-3" names no acceptor; the acceptors are acceptor-0 to acceptor-2/,
    ],
  ])("%s", (_, vars, setting, detail) => {
    const error = refusal(vars);
    expect(error.setting).toBe(setting);
    expect(error.message.startsWith(`${setting}: `)).toBe(true);
    expect(error.message).toMatch(detail);
  });
});
