import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { orderedId, orderedIdRandomBytes } from "../../core/ordered-id";

const random = fc.uint8Array({ minLength: orderedIdRandomBytes, maxLength: orderedIdRandomBytes });
const time = fc.integer({ min: 0, max: 36 ** 9 - 1 });

describe("orderedId", () => {
  it("is a valid request id of 34 characters", () => {
    fc.assert(
      fc.property(time, random, (now, bytes) => {
        const id = orderedId(now, bytes);
        expect(id).toMatch(/^[0-9a-z]{9}-[0-9a-f]{24}$/);
      }),
    );
  });

  it("sorts by time: an id from a later millisecond sorts after", () => {
    fc.assert(
      fc.property(time, time, random, random, (a, b, x, y) => {
        fc.pre(a < b);
        expect(orderedId(a, x) < orderedId(b, y)).toBe(true);
      }),
    );
  });

  it("refuses a time that is not a non-negative integer, and randomness of the wrong size", () => {
    const bytes = new Uint8Array(orderedIdRandomBytes);
    expect(() => orderedId(-1, bytes)).toThrow(RangeError);
    expect(() => orderedId(1.5, bytes)).toThrow(RangeError);
    expect(() => orderedId(1, new Uint8Array(4))).toThrow(RangeError);
  });
});
