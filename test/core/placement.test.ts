import { describe, expect, it } from "vitest";
import { parseColo, probeColo } from "../../acceptors/placement";

describe("where an acceptor runs", () => {
  it("reads the data centre from the platform's trace page", () => {
    expect(parseColo("fl=1f1\nh=cloudflare.com\nip=1.2.3.4\nts=1.2\ncolo=IAD\nloc=US\n")).toBe("IAD");
    expect(parseColo("colo=\n")).toBeUndefined();
    expect(parseColo("<html>not a trace</html>")).toBeUndefined();
  });

  it("says nothing when the page cannot be had, without throwing", async () => {
    const failing = (async () => {
      throw new TypeError("fetch failed");
    }) as unknown as typeof fetch;
    expect(await probeColo(failing)).toBeUndefined();
    const found = (async () => new Response("colo=SYD\n")) as unknown as typeof fetch;
    expect(await probeColo(found)).toBe("SYD");
  });
});
