// The live web viewer's entry point: connects to the store over the WebSocket
// (same origin), and wires the panels together. Each panel is its own module:
//   live.ts        the tree from a snapshot plus a gapless watch
//   tree-view.ts   the tree panel (virtualized rows, keyboard)
//   events.ts      the event stream with its glob filter
//   time-slider.ts the history bar: store rev, slider, Live
//   cluster.ts     the acceptor cards and the map
//   sessions.ts    the open sessions and the files they own
//   editor.ts      set and delete with compare-and-set
//   connection.ts  token, access, offline banner

import { connect, TooLateError, UnauthorizedError } from "../client/index";
import { ClusterPanel } from "./cluster";
import {
  type Access,
  askForToken,
  ConnectionStatus,
  probeAccess,
  savedToken,
  setUpTokenDialog,
} from "./connection";
import { byId, h } from "./dom";
import { Editor } from "./editor";
import { EventList } from "./events";
import { count } from "./format";
import { LiveFeed, oldestRevOf, readTree } from "./live";
import { type SessionsAnswer, SessionsPanel } from "./sessions";
import { TimeSlider } from "./time-slider";
import { TreeModel } from "./tree-model";
import { TreeView } from "./tree-view";

/** What the tree panel shows: the live tree, the store at a past rev, or why it cannot show that rev. */
type View =
  | { mode: "live" }
  | { mode: "past"; rev: number; model: TreeModel }
  | { mode: "too-late"; rev: number; oldest: number | undefined }
  | { mode: "loading"; rev: number };

setUpTokenDialog();
const token = savedToken();
const client = connect(location.origin, { transport: "websocket", token });
const status = new ConnectionStatus();

let liveModel = new TreeModel();
let view: View = { mode: "live" };
/** Bumped by every change of view, so that a slow read of an older choice is dropped. */
let viewSeq = 0;
let access: Access = "open";
let storeRev = 0;
let opened = false;

const treePanel = byId("tree-panel");
const treeNotice = byId("tree-notice");
const treeMeta = byId("tree-meta");
const newFileButton = byId<HTMLButtonElement>("new-file");

const tree = new TreeView(liveModel, {
  container: byId("tree"),
  empty: byId("tree-empty"),
  onOpen: (file) => editor.open(file),
});

const editor = new Editor(client, {
  readOnlyReason: () => {
    if (access === "read-only") return "This token may only read: the value is shown, not editable.";
    if (view.mode !== "live") return "You are looking at the past: go live to edit.";
    return undefined;
  },
  readOnly: () => setAccess("read-only"),
});

const events = new EventList({
  reveal: (path) => {
    goLive();
    tree.reveal(path);
  },
  travel: (rev) => void showRev(rev),
});

const slider = new TimeSlider({ pick: (rev) => void showRev(rev), live: () => goLive() });

const cluster = new ClusterPanel(token, {
  polled: (acceptors) => {
    status.ok("cluster");
    raiseStoreRev(Math.max(0, ...acceptors.map((a) => a.rev ?? 0)));
  },
  failed: (error) => status.fail("cluster", describe(error)),
  unauthorized: () => askForToken("The token was refused. Enter a valid one."),
});

/** The last sessions poll: it tells who owns which file of the live tree (SPEC §6). */
let lastSessions: SessionsAnswer | undefined;

const sessions = new SessionsPanel(token, {
  polled: (answer) => {
    status.ok("sessions");
    lastSessions = answer;
    applyOwners();
  },
  failed: (error) => status.fail("sessions", describe(error)),
  unauthorized: () => askForToken("The token was refused. Enter a valid one."),
  reveal: (path) => {
    goLive();
    tree.reveal(path);
  },
});

newFileButton.addEventListener("click", () => editor.create());
addEventListener("keydown", (event) => {
  if (event.defaultPrevented || isTyping(event.target)) return;
  if (event.key === "/") {
    event.preventDefault();
    byId("event-filter").focus();
  } else if (event.key === "Escape" && view.mode !== "live") {
    goLive();
  }
});

void start();

async function start(): Promise<void> {
  try {
    await client.rev();
  } catch (error) {
    if (error instanceof UnauthorizedError) {
      treeNotice.hidden = false;
      treeNotice.replaceChildren(
        h("p", { text: "This store needs a token to be read." }),
        h("button", {
          class: "primary",
          text: "Enter a token",
          on: { click: () => askForToken("Enter a token for this store.") },
        }),
      );
      askForToken(
        token === undefined ? "This store needs a token." : "That token was refused. Enter a valid one.",
      );
      return;
    }
    status.fail("feed", describe(error));
    setTimeout(() => void start(), 2_000);
    return;
  }
  setAccess(await probeAccess(client, token));
  cluster.start();
  sessions.start();
  const feed = new LiveFeed(client, {
    reset(model, rev, resync) {
      status.ok("feed");
      liveModel = model;
      raiseStoreRev(rev);
      if (view.mode === "live") tree.setModel(model);
      if (!opened) tree.unfoldSmall();
      opened = true;
      applyOwners();
      if (resync)
        events.note(`The watch could not resume, so the whole tree was read again at rev ${count(rev)}.`);
      showTreeMeta();
    },
    event(event, applied) {
      status.ok("feed");
      events.add(event);
      raiseStoreRev(event.rev);
      if (applied && view.mode === "live") tree.changed(event.path);
      showTreeMeta();
    },
    failed(error) {
      if (error instanceof UnauthorizedError) askForToken("The token was refused. Enter a valid one.");
      else if (error instanceof TooLateError)
        events.note("The watch fell out of the history window; reading the tree again.");
      else status.fail("feed", describe(error));
    },
  });
  void feed.run();
}

/**
 * Marks the live tree's ephemeral files with their sessions, from the last
 * sessions poll, and names the session on the set events that made them.
 */
function applyOwners(): void {
  if (!lastSessions) return;
  const owners = new Map<string, string>();
  for (const { session, files } of lastSessions.sessions) for (const path of files) owners.set(path, session);
  const changed = liveModel.setOwners(lastSessions.rev, owners, lastSessions.complete);
  for (const file of liveModel.ownedFiles()) {
    if (file.session !== undefined) events.markSession(file.rev, file.path, file.session);
  }
  if (changed.length === 0) return;
  if (view.mode === "live") tree.changed();
  showTreeMeta();
}

function setAccess(next: Access): void {
  access = next;
  document.body.dataset.access = next;
  const chip = byId("access");
  chip.hidden = false;
  chip.textContent = { open: "open store", "read-write": "read-write token", "read-only": "read-only token" }[
    next
  ];
  chip.title = {
    open: "The store needs no token (DOOZER_RWSECRET is not set).",
    "read-write": "Your token may read and write.",
    "read-only": "Your token may only read: editing is off.",
  }[next];
  showEditControls();
}

function showEditControls(): void {
  newFileButton.hidden = access === "read-only" || view.mode !== "live";
}

function raiseStoreRev(rev: number): void {
  if (rev <= storeRev) return;
  storeRev = rev;
  byId("store-rev").textContent = count(rev);
  slider.setStoreRev(rev);
}

function goLive(): void {
  viewSeq++;
  view = { mode: "live" };
  tree.setModel(liveModel);
  slider.showLive();
  showView();
}

/** Shows the tree as it was at `rev` (a WALK at that rev), or explains why it cannot. */
async function showRev(rev: number): Promise<void> {
  if (rev >= storeRev) {
    goLive();
    return;
  }
  const seq = ++viewSeq;
  view = { mode: "loading", rev };
  slider.showPast(rev, "loading");
  showView();
  try {
    const model = await readTree(client, rev);
    if (seq !== viewSeq) return;
    view = { mode: "past", rev, model };
    tree.setModel(model);
    slider.showPast(rev, "shown");
  } catch (error) {
    if (seq !== viewSeq) return;
    if (!(error instanceof TooLateError)) {
      view = { mode: "too-late", rev, oldest: undefined };
      slider.showPast(rev, "loading");
      showView(`Could not read rev ${count(rev)}: ${(error as Error).message}`);
      return;
    }
    const oldest = oldestRevOf(error);
    if (oldest !== undefined) slider.learnOldest(oldest);
    view = { mode: "too-late", rev, oldest };
    slider.showPast(rev, "too-late");
  }
  showView();
}

/** The tree panel's notice and state for the current view. */
function showView(failure?: string): void {
  treePanel.dataset.mode = view.mode;
  showEditControls();
  showTreeMeta();
  const back = h("button", { class: "primary", text: "Back to live", on: { click: () => goLive() } });
  switch (view.mode) {
    case "live":
      treeNotice.hidden = true;
      treeNotice.replaceChildren();
      return;
    case "loading":
      treeNotice.hidden = false;
      treeNotice.replaceChildren(h("p", { text: `Reading the store at rev ${count(view.rev)}…` }));
      return;
    case "past": {
      const ago = storeRev - view.rev;
      treeNotice.hidden = false;
      treeNotice.replaceChildren(
        h(
          "p",
          {},
          h("strong", { text: `Rev ${count(view.rev)}` }),
          ` · the store as it was ${count(ago)} rev${ago === 1 ? "" : "s"} ago. Edits are off.`,
        ),
        back,
      );
      return;
    }
    case "too-late": {
      const { rev, oldest } = view;
      treeNotice.hidden = false;
      if (failure) {
        treeNotice.replaceChildren(h("p", { text: failure }), back);
        return;
      }
      const edge = oldest ?? slider.oldest;
      treeNotice.replaceChildren(
        h(
          "div",
          { class: "too-late" },
          h("h3", { text: `Rev ${count(rev)} is no longer kept` }),
          h("p", {
            text:
              `The store keeps its most recent revs (2,000 by default) to read the past; older ones are gone ` +
              `(TOO_LATE). The oldest rev it can show now is ${count(edge)}.`,
          }),
          h(
            "div",
            { class: "actions" },
            h("button", { text: `Show rev ${count(edge)}`, on: { click: () => void showRev(edge) } }),
            back,
          ),
        ),
      );
    }
  }
}

function showTreeMeta(): void {
  const model = view.mode === "past" ? view.model : liveModel;
  const ephemeral = model.ephemeralCount;
  const files =
    `${count(model.fileCount)} file${model.fileCount === 1 ? "" : "s"}` +
    (ephemeral > 0 ? ` · ${count(ephemeral)} ephemeral` : "");
  treeMeta.textContent = view.mode === "past" ? `${files} at rev ${count(view.rev)}` : files;
}

/** A failure in a few words, for the offline banner. */
function describe(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError")
    return "the store takes too long to answer";
  if (error instanceof TypeError) return "the store does not answer";
  if (error instanceof Error && "code" in error && error.code === "CONNECTION")
    return "no connection to the store";
  return error instanceof Error ? error.message : String(error);
}

function isTyping(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    (target instanceof HTMLElement && target.isContentEditable) ||
    document.querySelector("dialog[open]") !== null
  );
}
