import { describe, expect, it } from "vitest";
import { coordinatesOf, hintCentre, nearestByLocation } from "../../core/regions";
import { replicaOrder } from "../../core/replica-order";

const defaults = [
  { name: "acceptor-0", location: "wnam" },
  { name: "acceptor-1", location: "enam" },
  { name: "acceptor-2", location: "weur" },
  { name: "acceptor-3", location: "apac" },
  { name: "acceptor-4", location: "oc" },
];

describe("the acceptor nearest to a client, before any round trip is measured", () => {
  it.each([
    ["Sydney", -33.87, 151.21, "acceptor-4"],
    ["London", 51.5, -0.13, "acceptor-2"],
    ["New York", 40.7, -74.0, "acceptor-1"],
    ["Seattle", 47.6, -122.3, "acceptor-0"],
    ["Singapore", 1.29, 103.85, "acceptor-3"],
  ])("from %s it is %s's region first", (_city, latitude, longitude, nearest) => {
    const order = nearestByLocation(defaults, latitude, longitude);
    expect(order[0]).toBe(nearest);
    expect([...order].sort()).toEqual(defaults.map((a) => a.name));
  });

  it("puts an acceptor with an unknown hint last, in its order", () => {
    const order = nearestByLocation([{ name: "x", location: "mars" }, ...defaults], 51.5, -0.13);
    expect(order.at(-1)).toBe("x");
  });
});

describe("the replicas a read tries, nearest first", () => {
  const sydney = { latitude: -33.87, longitude: 151.21 };

  it("goes by the caller's location until every round trip is measured", () => {
    const partly = new Map([["acceptor-0", 1]]);
    expect(replicaOrder(defaults, partly, sydney)[0]).toBe("acceptor-4");
    expect(replicaOrder(defaults, new Map(), sydney)).toHaveLength(defaults.length);
  });

  it("goes by measured round trips once all are known, whatever the location says", () => {
    const rtts = new Map(defaults.map((a, i) => [a.name, 50 - i * 10]));
    rtts.set("acceptor-2", 1);
    expect(replicaOrder(defaults, rtts, sydney)).toEqual([
      "acceptor-2",
      "acceptor-4",
      "acceptor-3",
      "acceptor-1",
      "acceptor-0",
    ]);
  });

  it("with no location, puts the measured first and the rest in their configured order", () => {
    const rtts = new Map([
      ["acceptor-3", 9],
      ["acceptor-2", 4],
    ]);
    expect(replicaOrder(defaults, rtts, undefined)).toEqual([
      "acceptor-2",
      "acceptor-3",
      "acceptor-0",
      "acceptor-1",
      "acceptor-4",
    ]);
  });

  it("takes coordinates as the platform hands them, and nothing else", () => {
    expect(coordinatesOf("-33.87", "151.21")).toEqual(sydney);
    expect(coordinatesOf(51.5, -0.13)).toEqual({ latitude: 51.5, longitude: -0.13 });
    expect(coordinatesOf(undefined, 1)).toBeUndefined();
    expect(coordinatesOf("", "")).toBeUndefined();
    expect(coordinatesOf("north", 3)).toBeUndefined();
    expect(coordinatesOf(91, 0)).toBeUndefined();
    expect(hintCentre("oc")).toEqual({ latitude: -33.9, longitude: 151.2 });
    expect(hintCentre("mars")).toBeUndefined();
  });
});
