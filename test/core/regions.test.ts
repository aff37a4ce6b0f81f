import { describe, expect, it } from "vitest";
import { nearestByLocation } from "../../core/regions";

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
