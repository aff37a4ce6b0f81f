// The live web viewer in a real browser: headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) against the local cluster as
// `npm start` runs it. Files are written with the client library; the test
// watches the page change. Screenshots of the main states go to
// test-results/screenshots/ (ignored by git); the view with a session open also to docs/viewer.png.
//
// Every wait is bounded: Playwright's actions by the page's default timeout,
// and assertions by expect.poll's timeout.

import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, connect } from "../../client/index";
import { type LocalCluster, startLocalCluster } from "../e2e/local-cluster";
import { useLocalCluster } from "../e2e/use-local-cluster";

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const root = fileURLToPath(new URL("../../", import.meta.url));
const screenshots = `${root}test-results/screenshots`;
/** Revs written in bulk: more than the 2,000-rev history window, so that rev 1 is TOO_LATE. */
const bulkFiles = 2_400;

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is not at ${chromiumPath}: install it (apt-get install -y chromium; .ci/run does) ` +
        "or set CHROMIUM_PATH. The browser tests do not skip.",
    );
  }
  mkdirSync(screenshots, { recursive: true });
  const { buildViewer } = await import(new URL("../../scripts/build-viewer.mjs", import.meta.url).href);
  await buildViewer({ quiet: true });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

async function newPage(url: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    colorScheme: "light",
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(url);
  return { context, page };
}

async function shoot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  const path = `${screenshots}/${name}.png`;
  await page.screenshot({ path, fullPage: options.fullPage ?? false });
  return path;
}

function row(page: Page, path: string) {
  return page.locator(`[role="treeitem"][data-path="${path}"]`);
}

/** The text of a locator now, or "" if it is not in the page (never waits). */
async function textOf(locator: ReturnType<Page["locator"]>): Promise<string> {
  return (await locator.count()) > 0 ? ((await locator.first().textContent()) ?? "") : "";
}

async function storeRevShown(page: Page): Promise<number> {
  return Number((await textOf(page.locator("#store-rev"))).replaceAll(",", "")) || 0;
}

async function fault(cluster: LocalCluster, acceptor: string, mode: string): Promise<void> {
  const response = await fetch(`${cluster.url}/v1/faults`, {
    method: "POST",
    body: JSON.stringify({ acceptor, mode }),
  });
  expect(response.status).toBe(200);
}

describe("the viewer on the local cluster", () => {
  const cluster = useLocalCluster();
  let writer: Client;
  let context: BrowserContext;
  let page: Page;
  /** The rev at which /app/color was still blue. */
  let blueRev = 0;

  beforeAll(async () => {
    writer = connect(cluster().url, { transport: "websocket" });
    await writer.set("/app/color", 0, "blue");
    await writer.set("/app/version", 0, "1.4.2");
    await writer.set("/locks/nightly-job", 0, "worker-7");
    await writer.set(
      "/assets/logo.bin",
      0,
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    );
    // The bulk: thousands of files, and enough revs to push rev 1 out of the history window.
    for (let i = 0; i < bulkFiles; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, bulkFiles - i) }, (_, j) =>
          writer.set(
            `/fleet/host-${String(i + j).padStart(4, "0")}`,
            -1,
            `10.1.${(i + j) >> 8}.${(i + j) & 255}`,
          ),
        ),
      );
    }
    await writer.set(
      "/app/config.json",
      0,
      JSON.stringify({ replicas: 3, region: "weur", features: ["watch", "cas"], timeoutMs: 2500 }),
    );
    await writer.set("/services/api/leader", 0, "node-a");
    await writer.set("/services/api/instances/node-a", 0, "10.0.0.11:8080");
    await writer.set("/services/api/instances/node-b", 0, "10.0.0.12:8080");
    await writer.set("/services/web/instances/web-1", 0, "10.0.1.21:3000");
    blueRev = await writer.set("/services/web/instances/web-2", 0, "10.0.1.22:3000");
    ({ context, page } = await newPage(cluster().url));
  }, 120_000);

  afterAll(async () => {
    writer?.close();
    await context?.close();
  });

  it("opens with the tree, the recent events, the store rev and five acceptors", async () => {
    const rev = await writer.rev();
    await expect
      .poll(() => textOf(row(page, "/app/color").locator(".value")), { timeout: 15_000 })
      .toBe("blue");
    await expect.poll(() => storeRevShown(page), { timeout: 5_000 }).toBeGreaterThanOrEqual(rev);
    // The bulk directory stays folded and says how many files it holds.
    await expect.poll(() => textOf(row(page, "/fleet").locator(".count"))).toBe("2,400 files");
    // A binary file shows a hex preview and its size, not garbage.
    expect(await textOf(row(page, "/assets/logo.bin").locator(".value"))).toBe(
      "hex 89 50 4e 47 0d 0a 1a 0a … · 12 B",
    );
    // The event list opens with the recent history.
    await expect
      .poll(() => page.locator('#events li.event[data-path="/services/web/instances/web-2"]').count())
      .toBe(1);
    await expect.poll(() => page.locator('.card[data-reachable="true"]').count(), { timeout: 5_000 }).toBe(5);
    await expect.poll(() => page.locator(".world-map .marker").count()).toBe(5);
  });

  it("follows a set and a delete live: tree, event list and rev", async () => {
    const rev = await writer.set("/app/color", -1, "green");
    await expect.poll(() => textOf(row(page, "/app/color").locator(".value"))).toBe("green");
    expect(await textOf(row(page, "/app/color").locator(".rev"))).toBe(`rev ${rev.toLocaleString("en-US")}`);
    const newest = page.locator("#events li.event").first();
    await expect.poll(() => newest.getAttribute("data-path")).toBe("/app/color");
    expect(await textOf(newest.locator(".value"))).toBe("green");
    await expect.poll(() => storeRevShown(page)).toBeGreaterThanOrEqual(rev);

    await writer.set("/app/feature-flags/dark-mode", 0, "on");
    await expect.poll(() => row(page, "/app/feature-flags").count()).toBe(1);
    const delRev = await writer.del("/locks/nightly-job", -1);
    await expect.poll(() => row(page, "/locks/nightly-job").count()).toBe(0);
    await expect.poll(() => row(page, "/locks").count()).toBe(0); // its directory vanished with it
    const deleted = page.locator(`#events li.event.del[data-rev="${delRev}"]`);
    await expect.poll(() => textOf(deleted.locator(".value"))).toBe("deleted");

    // Filter the event list by glob.
    await page.locator("#event-filter").fill("/app/**");
    await expect.poll(() => page.locator('#events li.event[data-path="/locks/nightly-job"]').count()).toBe(0);
    expect(await page.locator('#events li.event[data-path="/app/color"]').count()).toBeGreaterThan(0);
    await page.locator("#event-filter").fill("app/**");
    await expect.poll(() => textOf(page.locator("#event-filter-hint"))).toContain("starts with /");
    await page.locator("#event-filter").fill("");

    await writer.set("/app/version", -1, "1.5.0");
    await expect.poll(() => textOf(row(page, "/app/version").locator(".value"))).toBe("1.5.0");
    await page.locator("#event-filter").blur();
    await page.waitForTimeout(1_700); // let the flash of the last change fade for a calm picture
    await shoot(page, "main");
  });

  it("draws only the visible rows of thousands of files, and moves through them by keyboard", async () => {
    await row(page, "/fleet").click();
    await expect.poll(() => row(page, "/fleet/host-0000").count()).toBe(1);
    const drawn = await page.locator('#tree [role="treeitem"]').count();
    expect(drawn).toBeLessThan(80); // of 2,400+ rows
    await page.locator("#tree").focus();
    await page.keyboard.press("End");
    await expect.poll(() => row(page, "/services/web/instances/web-2").count()).toBe(1);
    expect(await page.locator('#tree [role="treeitem"]').count()).toBeLessThan(80);
    await page.keyboard.press("Home");
    await expect.poll(() => page.locator("#tree").getAttribute("aria-activedescendant")).toBe("row_app");
    // Fold /fleet again with the keyboard: down to it, then left.
    await row(page, "/fleet").click();
    await expect.poll(() => row(page, "/fleet/host-0000").count()).toBe(0);
    await page.keyboard.press("ArrowRight");
    await expect.poll(() => row(page, "/fleet/host-0000").count()).toBe(1);
    await page.keyboard.press("ArrowLeft");
    await expect.poll(() => row(page, "/fleet/host-0000").count()).toBe(0);
    // Enter opens a file, Escape closes it.
    await page.keyboard.press("Home");
    await page.keyboard.press("ArrowRight"); // into /app (already unfolded): its first entry
    await expect
      .poll(() => page.locator("#tree").getAttribute("aria-activedescendant"))
      .toBe("row_app_color");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#editor").getAttribute("open")).toBe("");
    expect(await page.locator("#editor-value").inputValue()).toBe("green");
    await page.keyboard.press("Escape");
    await expect.poll(() => page.locator("#editor").getAttribute("open")).toBeNull();
  });

  it("moves back in time with the slider, explains TOO_LATE, and goes live again", async () => {
    // The slider itself, by keyboard: one step back shows a past rev.
    await page.locator("#rev-slider").focus();
    await page.keyboard.press("ArrowLeft");
    await expect.poll(() => page.locator("#tree-panel").getAttribute("data-mode")).toBe("past");
    await page.locator("#live-button").click();
    await expect.poll(() => page.locator("#tree-panel").getAttribute("data-mode")).toBe("live");

    // Back to the rev at which /app/color was still blue.
    await page.locator("#rev-input").fill(String(blueRev));
    await page.locator("#rev-input").press("Enter");
    await expect.poll(() => page.locator("#tree-panel").getAttribute("data-mode")).toBe("past");
    await expect.poll(() => textOf(row(page, "/app/color").locator(".value"))).toBe("blue");
    expect(Number(await page.locator("#rev-slider").inputValue())).toBe(blueRev);
    expect(await textOf(page.locator("#tree-notice"))).toContain(`Rev ${blueRev.toLocaleString("en-US")}`);
    expect(await row(page, "/app/feature-flags").count()).toBe(0); // not created yet then
    expect(await page.locator("#new-file").isHidden()).toBe(true); // no edits in the past
    await shoot(page, "time-travel");

    // Rev 1 has left the 2,000-rev window: the panel says so, with a way out.
    await page.locator("#rev-input").fill("1");
    await page.locator("#rev-input").press("Enter");
    await expect.poll(() => page.locator("#tree-panel").getAttribute("data-mode")).toBe("too-late");
    const notice = await textOf(page.locator("#tree-notice"));
    expect(notice).toContain("Rev 1 is no longer kept");
    expect(notice).toContain("TOO_LATE");
    await shoot(page, "too-late");
    await page.locator("#tree-notice button", { hasText: "Show rev" }).click();
    await expect.poll(() => page.locator("#tree-panel").getAttribute("data-mode")).toBe("past");

    await page.locator("#live-button").click();
    await expect.poll(() => page.locator("#tree-panel").getAttribute("data-mode")).toBe("live");
    await expect.poll(() => textOf(row(page, "/app/color").locator(".value"))).toBe("green");
  });

  it("turns an acceptor taken down red within two seconds, while the store keeps working", async () => {
    await fault(cluster(), "acceptor-2", "down");
    const downed = Date.now();
    await expect
      .poll(() => page.locator('.card[data-acceptor="acceptor-2"]').getAttribute("data-reachable"), {
        timeout: 2_000,
        interval: 50,
      })
      .toBe("false");
    const tookMs = Date.now() - downed;
    expect(tookMs).toBeLessThanOrEqual(2_000);
    expect(await page.locator('.world-map .marker.down[data-acceptor="acceptor-2"]').count()).toBe(1);
    const rev = await writer.set("/app/during-fault", 0, "still writable");
    await expect
      .poll(() => textOf(row(page, "/app/during-fault").locator(".rev")))
      .toBe(`rev ${rev.toLocaleString("en-US")}`);
    await shoot(page, "acceptor-down");
    await fault(cluster(), "*", "ok");
    await expect.poll(() => page.locator('.card[data-reachable="true"]').count(), { timeout: 5_000 }).toBe(5);
  });

  it("resumes its watch without missing a change when its socket is dropped", async () => {
    // Take every acceptor down once, two at a time (a majority stays up): whichever one holds
    // the viewer's socket closes it, and the viewer must reconnect and miss nothing.
    for (const pair of [["acceptor-0", "acceptor-1"], ["acceptor-2", "acceptor-3"], ["acceptor-4"]]) {
      for (const acceptor of pair) await fault(cluster(), acceptor, "down");
      const path = `/app/resume-${pair.join("-and-")}`; // in /app, which is unfolded
      await writer.set(path, 0, "seen");
      await fault(cluster(), "*", "ok");
      const after = await writer.set(`${path}-after`, 0, "seen too");
      await expect.poll(() => row(page, `${path}-after`).count(), { timeout: 15_000 }).toBe(1);
      expect(await row(page, path).count()).toBe(1);
      expect(await page.locator(`#events li.event[data-rev="${after}"]`).count()).toBe(1);
    }
  });

  it("edits with compare-and-set, and shows the newer value on a conflict", async () => {
    await row(page, "/app/color").click();
    await expect.poll(() => page.locator("#editor").getAttribute("open")).toBe("");
    await page.locator("#editor-value").fill("teal");
    // Behind the editor's back, someone else changes the file.
    const theirs = await writer.set("/app/color", -1, "orange");
    await page.locator("#editor-save").click();
    await expect.poll(() => page.locator("#editor-conflict").isVisible()).toBe(true);
    expect(await textOf(page.locator("#editor-conflict-value"))).toBe("orange");
    expect(await textOf(page.locator("#editor-conflict-text"))).toContain(
      `it is now rev ${theirs.toLocaleString("en-US")}`,
    );
    await shoot(page, "conflict");
    // Retry: overwrite with the newer rev.
    await page.locator("#editor-retry").click();
    await expect.poll(() => page.locator("#editor").getAttribute("open")).toBeNull();
    await expect.poll(() => textOf(row(page, "/app/color").locator(".value"))).toBe("teal");
    expect((await writer.get("/app/color")).value.text()).toBe("teal");

    // A new file (create only), then delete it (two clicks: arm, confirm).
    await page.locator("#new-file").click();
    await page.locator("#editor-path").fill("/app/created-in-browser");
    await page.locator("#editor-value").fill("hello");
    await page.locator("#editor-save").click();
    await expect.poll(() => textOf(row(page, "/app/created-in-browser").locator(".value"))).toBe("hello");
    await row(page, "/app/created-in-browser").click();
    await page.locator("#editor-delete").click();
    await page.locator("#editor-delete").click();
    await expect.poll(() => row(page, "/app/created-in-browser").count()).toBe(0);
  });

  it("marks ephemeral files with their session, lists the open sessions, and drops both when it ends", async () => {
    const base = cluster().url;
    const opened = await fetch(`${base}/v1/sessions?ttl=60000`, { method: "POST" });
    expect(opened.status).toBe(200);
    const { session } = (await opened.json()) as { session: string; ttl: number; rev: number };
    const short = session.slice(0, 6);
    const put = async (path: string, value: string) => {
      const response = await fetch(`${base}/v1/files${path}?rev=-1&session=${encodeURIComponent(session)}`, {
        method: "PUT",
        body: value,
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { rev: number }).rev;
    };
    const holderRev = await put("/app/lease-holder", "worker-7 since 12:04");
    await put("/app/leader", "node-b");

    // The tree: a badge with the session's short id, the full id on hover; persistent files have none.
    const badge = row(page, "/app/lease-holder").locator(".lease");
    await expect.poll(() => textOf(badge), { timeout: 5_000 }).toBe(`ephemeral, session ${short}`);
    expect(await badge.getAttribute("title")).toContain(session);
    expect(await row(page, "/app/lease-holder").getAttribute("data-session")).toBe(session);
    await expect.poll(() => row(page, "/app/leader").getAttribute("data-session")).toBe(session);
    expect(await row(page, "/app/color").locator(".lease").count()).toBe(0);
    expect(await textOf(page.locator("#tree-meta"))).toContain("2 ephemeral");
    // The event stream names the session on the set.
    await expect
      .poll(() => page.locator(`#events li.event[data-rev="${holderRev}"]`).getAttribute("data-session"))
      .toBe(session);
    // The sessions panel: the session, its ttl and its files (unfolded).
    const item = page.locator(`#sessions li.session[data-session="${session}"]`);
    await expect.poll(() => item.count()).toBe(1);
    expect(await textOf(item.locator(".id"))).toBe(short);
    expect(await textOf(item.locator(".ttl"))).toBe("ttl 1 min");
    // The panel polls the sessions apart from the tree's watch: a poll between the two PUTs shows one file.
    await expect.poll(() => textOf(item.locator(".count"))).toBe("2 files");
    await item.locator("summary").click();
    expect(await item.locator("button[data-path]").allTextContents()).toEqual([
      "/app/leader",
      "/app/lease-holder",
    ]);
    // The detail pane says who owns the file.
    await row(page, "/app/lease-holder").click();
    await expect.poll(() => textOf(page.locator("#editor-meta"))).toContain(`owned by session ${session}`);
    await page.keyboard.press("Escape");
    await page.waitForTimeout(1_700); // let the flashes fade for a calm picture
    const shot = await shoot(page, "sessions");
    // The README's picture (every panel in use) changes only when asked for: `UPDATE_VIEWER_PNG=1 npm test`.
    if (process.env.UPDATE_VIEWER_PNG === "1") copyFileSync(shot, `${root}docs/viewer.png`);

    // End it: its files are deleted (ordinary del events), the session leaves the panel.
    const ended = await fetch(`${base}/v1/sessions/${encodeURIComponent(session)}`, { method: "DELETE" });
    expect(ended.status).toBe(200);
    const { rev: endRev } = (await ended.json()) as { rev: number };
    await expect.poll(() => row(page, "/app/lease-holder").count(), { timeout: 5_000 }).toBe(0);
    expect(await row(page, "/app/leader").count()).toBe(0);
    expect(await page.locator(`#events li.event.del[data-rev="${endRev}"]`).count()).toBe(1);
    await expect.poll(() => item.count(), { timeout: 5_000 }).toBe(0);
    expect(await textOf(page.locator("#tree-meta"))).not.toContain("ephemeral");
  });

  it("says when it is offline, and catches up when it is back", async () => {
    await context.setOffline(true);
    await expect.poll(() => page.locator("#banner").isVisible(), { timeout: 5_000 }).toBe(true);
    expect(await textOf(page.locator("#status"))).toBe("offline");
    const rev = await writer.set("/app/written-while-offline", 0, "caught up");
    await shoot(page, "offline");
    await context.setOffline(false);
    await expect.poll(() => page.locator("#banner").isVisible(), { timeout: 10_000 }).toBe(false);
    await expect
      .poll(() => textOf(row(page, "/app/written-while-offline").locator(".rev")), { timeout: 15_000 })
      .toBe(`rev ${rev.toLocaleString("en-US")}`);
  });

  it("fits a phone: panels stack and nothing overflows sideways", async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    await expect.poll(() => page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
    const tree = await page.locator(".tree-panel").boundingBox();
    const events = await page.locator(".events-panel").boundingBox();
    expect(tree && events && events.y > tree.y + tree.height - 1).toBe(true);
    await shoot(page, "phone", { fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});

describe("the viewer with auth on", () => {
  const rw = "rw-secret-for-tests";
  let local: LocalCluster | undefined;
  const cluster = () => local as LocalCluster;

  beforeAll(async () => {
    // startLocalCluster waits for GET /v1/rev to answer 200, which needs a token here:
    // lend its readiness probe the read-write token while it starts.
    const plainFetch = globalThis.fetch;
    globalThis.fetch = (input, init) =>
      plainFetch(input, { ...init, headers: { Authorization: `Bearer ${rw}`, ...init?.headers } });
    try {
      local = await startLocalCluster({ DOOZER_RWSECRET: rw, DOOZER_ROSECRET: "ro-secret-for-tests" });
    } finally {
      globalThis.fetch = plainFetch;
    }
  }, 120_000);

  afterAll(async () => {
    await local?.stop();
  });

  it("asks for a token; a read-only token sees no edit controls, a read-write one does", async () => {
    const writer = connect(cluster().url, { transport: "websocket", token: rw });
    await writer.set("/app/color", 0, "blue");
    const { context, page } = await newPage(cluster().url);
    try {
      await expect.poll(() => page.locator("#token-dialog").getAttribute("open")).toBe("");
      await page.locator("#token-input").fill("ro-secret-for-tests");
      await page.locator("#token-input").press("Enter");
      await expect
        .poll(() => textOf(row(page, "/app/color").locator(".value")), { timeout: 15_000 })
        .toBe("blue");
      await expect.poll(() => textOf(page.locator("#access"))).toBe("read-only token");
      expect(await page.locator("#new-file").isHidden()).toBe(true);
      await row(page, "/app/color").click();
      await expect.poll(() => page.locator("#editor").getAttribute("open")).toBe("");
      expect(await page.locator("#editor-save").isHidden()).toBe(true);
      expect(await page.locator("#editor-delete").isHidden()).toBe(true);
      expect(await page.locator("#editor-value").getAttribute("readonly")).toBe("");
      // The probe wrote nothing: the store rev is still that of the one set.
      expect(await writer.rev()).toBe(1);
      await shoot(page, "read-only");
      await page.keyboard.press("Escape");

      await page.locator("#token-button").click();
      await page.locator("#token-input").fill(rw);
      await page.locator("#token-input").press("Enter");
      await expect.poll(() => textOf(page.locator("#access")), { timeout: 15_000 }).toBe("read-write token");
      expect(await page.locator("#new-file").isVisible()).toBe(true);
      await expect
        .poll(() => page.locator('.card[data-reachable="true"]').count(), { timeout: 5_000 })
        .toBe(5);
      expect(await writer.rev()).toBe(1);
    } finally {
      writer.close();
      await context.close();
    }
  });
});
