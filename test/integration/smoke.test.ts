import { describe, expect, it } from "vitest";
import { api, json, put } from "./helpers";

describe("smoke", () => {
  it("sets and gets", async () => {
    const r = await put("/smoke/a", 0, "hello");
    expect(r.status).toBe(200);
    const g = await api("/v1/files/smoke/a");
    expect(await g.text()).toBe("hello");
    expect(await json(await api("/v1/rev"))).toEqual({ rev: 1 });
  });
});
