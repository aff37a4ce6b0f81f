// The editor: a dialog that shows one file in full and, with write access,
// sets or deletes it with compare-and-set. It sends the rev it loaded; if the
// file changed meanwhile (REV_MISMATCH), it shows the newer value and lets the
// user overwrite it (with the newer rev), start again from it, or cancel.
// Nothing is ever clobbered without the user having seen what they replace.

import {
  type Client,
  NoEntError,
  NoSessionError,
  ReadOnlyError,
  RevMismatchError,
  UnauthorizedError,
} from "../client/index";
import { isValidPath } from "../core/path";
import { byId, toast } from "./dom";
import { asText, count, hexDump, size } from "./format";

export interface EditorHandlers {
  /** Why the user may not write now (a read-only token, a view of the past), or undefined if they may. */
  readOnlyReason(): string | undefined;
  /** A write answered READONLY: the token may only read. */
  readOnly(): void;
}

interface Loaded {
  path: string;
  /** The rev the write checks against: the file's rev when it was opened, 0 to create. */
  rev: number;
  value: Uint8Array | undefined;
  /** The session that owns the file (ephemeral), if any. */
  session?: string;
}

type Action = "save" | "delete";

export class Editor {
  private readonly dialog = byId<HTMLDialogElement>("editor");
  private readonly form = byId<HTMLFormElement>("editor-form");
  private readonly title = byId("editor-title");
  private readonly meta = byId("editor-meta");
  private readonly pathField = byId("editor-path-field");
  private readonly pathInput = byId<HTMLInputElement>("editor-path");
  private readonly note = byId("editor-note");
  private readonly valueLabel = byId("editor-value-label");
  private readonly textarea = byId<HTMLTextAreaElement>("editor-value");
  private readonly hex = byId("editor-hex");
  private readonly replaceBinary = byId<HTMLButtonElement>("editor-replace");
  private readonly conflict = byId("editor-conflict");
  private readonly conflictText = byId("editor-conflict-text");
  private readonly conflictValue = byId("editor-conflict-value");
  private readonly retryButton = byId<HTMLButtonElement>("editor-retry");
  private readonly error = byId("editor-error");
  private readonly deleteButton = byId<HTMLButtonElement>("editor-delete");
  private readonly saveButton = byId<HTMLButtonElement>("editor-save");
  private loaded: Loaded = { path: "", rev: 0, value: undefined };
  private creating = false;
  /** The newer file seen by a conflict, which a retry writes over. */
  private newer: Loaded | undefined;
  private conflictAction: Action = "save";
  private deleteArmed: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly client: Client,
    private readonly handlers: EditorHandlers,
  ) {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.save(this.loaded.rev);
    });
    this.textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    byId("editor-close").addEventListener("click", () => this.close());
    byId("editor-cancel").addEventListener("click", () => this.close());
    byId("editor-conflict-cancel").addEventListener("click", () => this.close());
    byId("editor-take-theirs").addEventListener("click", () => {
      if (this.newer) this.show(this.newer, false);
    });
    this.retryButton.addEventListener("click", () => {
      if (!this.newer) return;
      if (this.conflictAction === "save") void this.save(this.newer.rev);
      else void this.remove(this.newer.rev);
    });
    this.deleteButton.addEventListener("click", () => this.armDelete());
    this.replaceBinary.addEventListener("click", () => {
      this.textarea.hidden = false;
      this.valueLabel.hidden = false;
      this.saveButton.hidden = this.handlers.readOnlyReason() !== undefined;
      this.replaceBinary.hidden = true;
      this.textarea.focus();
    });
  }

  /** Opens a file of the tree: its value and the rev that a write will check. */
  open(file: { path: string; rev: number; value: Uint8Array; session?: string }): void {
    // A copy: the tree's entry changes under us as the watch applies changes, and the
    // write must check the rev the user saw, not the latest one.
    this.show({ path: file.path, rev: file.rev, value: file.value, session: file.session }, false);
  }

  /** Opens an empty editor for a new file (written with rev 0: only if it does not exist). */
  create(prefix = "/"): void {
    this.show({ path: prefix === "/" ? "/" : `${prefix}/`, rev: 0, value: undefined }, true);
  }

  private show(file: Loaded, creating: boolean): void {
    this.loaded = file;
    this.creating = creating;
    this.newer = undefined;
    this.conflict.hidden = true;
    this.error.hidden = true;
    this.disarmDelete();
    const reason = this.handlers.readOnlyReason();
    const writable = reason === undefined;
    this.title.textContent = creating ? "New file" : file.path;
    this.pathField.hidden = !creating;
    this.pathInput.value = creating ? file.path : "";
    const text = file.value ? asText(file.value) : "";
    this.meta.textContent = creating
      ? "Created only if no file has this path yet (rev 0)."
      : `rev ${count(file.rev)} · ${size(file.value?.length ?? 0)} · ${text === undefined ? "binary" : "text"}` +
        (file.session === undefined
          ? " · persistent"
          : ` · ephemeral, owned by session ${file.session} (deleted when it ends)`);
    this.note.hidden = writable;
    this.note.textContent = reason ?? "";
    // A binary value is shown as hex; it is only replaced (with text) on request.
    const binary = text === undefined;
    this.hex.hidden = !binary;
    this.hex.textContent = binary && file.value ? hexDump(file.value) : "";
    this.textarea.hidden = binary;
    this.valueLabel.hidden = binary;
    this.textarea.value = text ?? "";
    this.textarea.readOnly = !writable;
    this.replaceBinary.hidden = !binary || !writable;
    this.saveButton.hidden = !writable || binary;
    this.deleteButton.hidden = !writable || creating;
    this.setBusy(false);
    if (!this.dialog.open) this.dialog.showModal();
    (creating ? this.pathInput : binary ? byId("editor-close") : this.textarea).focus();
  }

  private close(): void {
    this.disarmDelete();
    this.dialog.close();
  }

  private get path(): string {
    return this.creating ? this.pathInput.value.trim() : this.loaded.path;
  }

  private async save(rev: number): Promise<void> {
    const path = this.path;
    if (!isValidPath(path) || path === "/") {
      this.fail("A path is / and names of a–z, A–Z, 0–9, . and -, e.g. /app/config.json");
      this.pathInput.focus();
      return;
    }
    await this.write("save", path, async () => {
      // An ephemeral file stays owned by its session: a SET without it would make the file persistent.
      const session = this.creating ? undefined : this.loaded.session;
      const newRev = await this.client.set(path, rev, this.textarea.value, { session });
      toast(`Saved ${path} at rev ${count(newRev)}`);
    });
  }

  private async remove(rev: number): Promise<void> {
    const path = this.loaded.path;
    await this.write("delete", path, async () => {
      const delRev = await this.client.del(path, rev);
      toast(`Deleted ${path} at rev ${count(delRev)}`);
    });
  }

  private async write(action: Action, path: string, send: () => Promise<void>): Promise<void> {
    this.setBusy(true);
    this.error.hidden = true;
    try {
      await send();
      this.close();
    } catch (error) {
      if (error instanceof RevMismatchError) await this.showConflict(action, path);
      else if (error instanceof ReadOnlyError) {
        this.handlers.readOnly();
        this.fail("This token may only read: saving and deleting are off.");
        this.saveButton.hidden = true;
        this.deleteButton.hidden = true;
      } else if (error instanceof NoSessionError) {
        this.fail("The session that owned this file has ended, so the file is gone: nothing was saved.");
      } else if (error instanceof UnauthorizedError) {
        this.fail("The token was refused. Set a token (top right) and try again.");
      } else {
        this.fail(`${action === "save" ? "Saving" : "Deleting"} failed: ${(error as Error).message}`);
      }
    } finally {
      this.setBusy(false);
    }
  }

  /** The file changed since it was loaded: show what it is now, and offer to overwrite it or cancel. */
  private async showConflict(action: Action, path: string): Promise<void> {
    let newer: Loaded;
    try {
      const now = await this.client.get(path);
      newer = { path, rev: now.rev, value: now.value };
    } catch (error) {
      if (!(error instanceof NoEntError)) {
        this.fail(`The file changed meanwhile, and reading it again failed: ${(error as Error).message}`);
        return;
      }
      newer = { path, rev: 0, value: undefined };
    }
    if (action === "delete" && newer.rev === 0) {
      toast(`${path} was already deleted`);
      this.close();
      return;
    }
    this.newer = newer;
    this.conflictAction = action;
    const loadedRev = this.creating ? "no file" : `rev ${count(this.loaded.rev)}`;
    if (newer.rev === 0) {
      this.conflictText.textContent = `${path} was deleted after you opened it (you loaded ${loadedRev}).`;
      this.conflictValue.textContent = "(deleted)";
      this.retryButton.textContent = "Create it with my value";
    } else {
      this.conflictText.textContent = this.creating
        ? `${path} already exists, at rev ${count(newer.rev)}. Its value:`
        : `Someone changed ${path} after you opened it: you loaded ${loadedRev}, it is now rev ${count(newer.rev)}. Its value now:`;
      const text = newer.value ? asText(newer.value) : "";
      this.conflictValue.textContent = text ?? hexDump(newer.value ?? new Uint8Array());
      this.retryButton.textContent =
        action === "save"
          ? `Overwrite with mine (rev ${count(newer.rev)})`
          : `Delete anyway (rev ${count(newer.rev)})`;
    }
    byId("editor-take-theirs").hidden = newer.rev === 0;
    this.conflict.hidden = false;
    this.retryButton.focus();
  }

  private armDelete(): void {
    if (this.deleteArmed === undefined) {
      this.deleteButton.textContent = "Confirm delete";
      this.deleteButton.classList.add("armed");
      this.deleteArmed = setTimeout(() => this.disarmDelete(), 4_000);
      return;
    }
    this.disarmDelete();
    void this.remove(this.loaded.rev);
  }

  private disarmDelete(): void {
    clearTimeout(this.deleteArmed);
    this.deleteArmed = undefined;
    this.deleteButton.textContent = "Delete";
    this.deleteButton.classList.remove("armed");
  }

  private fail(message: string): void {
    this.error.textContent = message;
    this.error.hidden = false;
  }

  private setBusy(busy: boolean): void {
    this.form.classList.toggle("busy", busy);
    for (const button of [this.saveButton, this.deleteButton, this.retryButton]) button.disabled = busy;
  }
}
