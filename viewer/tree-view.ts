// The tree panel: the expanded part of a TreeModel as rows of a fixed height
// in a scroll container, of which only the rows on screen (and a few around
// them) exist in the DOM. So a store of thousands of files scrolls and updates
// as smoothly as one of ten.
//
// Keyboard: the container is the one focusable element (role=tree) and points
// at the active row with aria-activedescendant, so re-drawing rows never loses
// the focus. Arrows move and fold, Enter opens, Home/End and PageUp/PageDown jump.

import { ancestorsOf, rootPath } from "../core/path";
import { frameScheduler, h } from "./dom";
import { count, preview } from "./format";
import { leaseBadge } from "./sessions";
import type { DirEntry, Entry, FileEntry, Row, TreeModel } from "./tree-model";

/** Must match .row's height in style.css. */
const rowHeight = 30;
/** Rows drawn above and below the visible ones, so that a fast scroll shows no gap. */
const overscan = 8;

export interface TreeViewOptions {
  /** The scroll container (#tree). */
  container: HTMLElement;
  /** Shown instead of rows when the tree has no file. */
  empty: HTMLElement;
  /** A file was chosen (click or Enter). */
  onOpen(file: FileEntry): void;
}

export class TreeView {
  readonly expanded = new Set<string>();
  private model: TreeModel;
  private rows: Row[] = [];
  private rowIndex = new Map<string, number>();
  /** The model version and the folding the rows were flattened from; -1: flatten again. */
  private flattenedAt = -1;
  private active: string | undefined;
  private readonly drawn = new Map<string, HTMLElement>();
  private readonly spacer = h("div", { class: "tree-spacer", attrs: { "aria-hidden": "true" } });
  private readonly flashes = new Set<string>();
  private readonly schedule = frameScheduler(() => this.render());

  constructor(
    model: TreeModel,
    private readonly options: TreeViewOptions,
  ) {
    this.model = model;
    const { container } = options;
    container.append(this.spacer);
    container.addEventListener("scroll", this.schedule, { passive: true });
    container.addEventListener("keydown", (event) => this.key(event));
    container.addEventListener("click", (event) => this.click(event));
    container.addEventListener("focus", () => {
      if (!this.active && this.rows[0]) this.activate(this.rows[0].entry.path);
    });
    new ResizeObserver(this.schedule).observe(container);
  }

  /** Shows another tree (the live one, or the store at a past rev); folding and selection carry over. */
  setModel(model: TreeModel): void {
    this.model = model;
    this.invalidate();
  }

  /** The model changed at `path` (or somewhere): draw again, and make the change flash where it shows. */
  changed(path?: string): void {
    if (path) this.flashes.add(path);
    this.schedule();
  }

  /**
   * Unfolds directories until about `rowsMax` rows show, breadth first, so that
   * a small store opens fully and a big one shows its top levels.
   */
  unfoldSmall(rowsMax = 40): void {
    let rows = this.model.root.children.size;
    const queue = [...this.model.root.children.values()].filter(isDir);
    for (let dir = queue.shift(); dir; dir = queue.shift()) {
      if (rows + dir.children.size > rowsMax) continue;
      this.expanded.add(dir.path);
      rows += dir.children.size;
      queue.push(...[...dir.children.values()].filter(isDir));
    }
    this.invalidate();
  }

  /** Unfolds the directories above `path`, selects it and scrolls it into view. */
  reveal(path: string): void {
    for (const dir of ancestorsOf(path)) this.expanded.add(dir);
    this.invalidate();
    this.flatten();
    const target = this.nearestShown(path);
    if (target) this.activate(target);
    this.options.container.focus({ preventScroll: true });
  }

  focus(): void {
    this.options.container.focus();
  }

  private invalidate(): void {
    this.flattenedAt = -1;
    this.schedule();
  }

  private flatten(): void {
    if (this.flattenedAt === this.model.version) return;
    this.rows = this.model.rows(this.expanded);
    this.rowIndex = new Map(this.rows.map((row, i) => [row.entry.path, i]));
    this.flattenedAt = this.model.version;
    // The active row may have gone (deleted, or folded away): keep the focus on something near.
    if (this.active && !this.rowIndex.has(this.active)) {
      this.active = this.nearestShown(this.active) ?? this.rows[0]?.entry.path;
    }
  }

  private render(): void {
    this.flatten();
    const { container, empty } = this.options;
    empty.hidden = this.rows.length > 0;
    this.spacer.style.height = `${this.rows.length * rowHeight}px`;
    const first = Math.max(0, Math.floor(container.scrollTop / rowHeight) - overscan);
    const last = Math.min(
      this.rows.length,
      Math.ceil((container.scrollTop + container.clientHeight) / rowHeight) + overscan,
    );
    const keep = new Set<string>();
    for (let i = first; i < last; i++) {
      const row = this.rows[i] as Row;
      const path = row.entry.path;
      keep.add(path);
      let element = this.drawn.get(path);
      if (!element) {
        element = h("div", { attrs: { role: "treeitem", id: rowId(path), "data-path": path } });
        this.drawn.set(path, element);
        container.append(element);
      }
      this.draw(element, row, i);
    }
    for (const [path, element] of this.drawn) {
      if (keep.has(path)) continue;
      element.remove();
      this.drawn.delete(path);
    }
    if (this.active && this.rowIndex.has(this.active)) {
      container.setAttribute("aria-activedescendant", rowId(this.active));
    } else {
      container.removeAttribute("aria-activedescendant");
    }
    this.flash();
  }

  /** Fills a row's element; its content is only rebuilt when what it shows changed. */
  private draw(element: HTMLElement, row: Row, index: number): void {
    const { entry } = row;
    element.style.transform = `translateY(${index * rowHeight}px)`;
    const active = entry.path === this.active;
    const signature =
      entry.kind === "file"
        ? `f${row.depth}:${entry.rev}:${active}:${entry.value.length}:${entry.session ?? ""}`
        : `d${row.depth}:${row.expanded}:${entry.fileCount}:${active}`;
    if (element.dataset.signature === signature) return;
    element.dataset.signature = signature;
    element.className = `row ${entry.kind}${active ? " active" : ""}`;
    element.style.paddingLeft = `${0.75 + row.depth * 1.1}rem`;
    element.setAttribute("aria-level", String(row.depth + 1));
    element.setAttribute("aria-selected", String(active));
    if (entry.kind === "dir") {
      element.setAttribute("aria-expanded", String(row.expanded));
      element.replaceChildren(
        h("span", { class: "twisty", attrs: { "aria-hidden": "true" } }),
        h("span", { class: "name", text: entry.name }),
        h("span", {
          class: "count",
          text: `${count(entry.fileCount)} file${entry.fileCount === 1 ? "" : "s"}`,
        }),
      );
    } else {
      element.removeAttribute("aria-expanded");
      element.classList.toggle("ephemeral", entry.session !== undefined);
      if (entry.session === undefined) delete element.dataset.session;
      else element.dataset.session = entry.session;
      element.replaceChildren(
        h("span", { class: "twisty", attrs: { "aria-hidden": "true" } }),
        h("span", { class: "name", text: entry.name }),
        ...(entry.session === undefined ? [] : [leaseBadge(entry.session)]),
        h("span", { class: "value", text: preview(entry.value) }),
        h("span", { class: "rev", text: `rev ${count(entry.rev)}`, title: `file rev ${entry.rev}` }),
      );
    }
  }

  /** Each change flashes on its row, or on the folded directory that hides it. */
  private flash(): void {
    if (this.flashes.size === 0) return;
    // Web Animations take colours, not var(): read the theme's flash colour when it is needed.
    const color = getComputedStyle(this.options.container).getPropertyValue("--flash").trim() || "#fff3bf";
    for (const path of this.flashes) {
      const shown = this.nearestShown(path);
      const element = shown ? this.drawn.get(shown) : undefined;
      element?.animate([{ backgroundColor: color }, { backgroundColor: color, offset: 0.2 }, {}], {
        duration: 1600,
        easing: "ease-out",
      });
    }
    this.flashes.clear();
  }

  /** `path` if it is a row, else its deepest ancestor that is. */
  private nearestShown(path: string): string | undefined {
    if (this.rowIndex.has(path)) return path;
    return ancestorsOf(path)
      .reverse()
      .find((dir) => this.rowIndex.has(dir));
  }

  private activate(path: string): void {
    this.active = path;
    const index = this.rowIndex.get(path);
    const { container } = this.options;
    if (index !== undefined) {
      const top = index * rowHeight;
      if (top < container.scrollTop) container.scrollTop = top;
      else if (top + rowHeight > container.scrollTop + container.clientHeight) {
        container.scrollTop = top + rowHeight - container.clientHeight;
      }
    }
    // The signature includes `active`, so the old and the new active row redraw.
    this.schedule();
  }

  private toggle(dir: DirEntry): void {
    if (this.expanded.has(dir.path)) this.expanded.delete(dir.path);
    else this.expanded.add(dir.path);
    this.invalidate();
  }

  private click(event: MouseEvent): void {
    const element = (event.target as HTMLElement).closest<HTMLElement>(".row");
    const path = element?.dataset.path;
    const entry = path ? this.model.get(path) : undefined;
    if (!entry) return;
    this.activate(entry.path);
    if (entry.kind === "dir") this.toggle(entry);
    else this.options.onOpen(entry);
  }

  private key(event: KeyboardEvent): void {
    this.flatten();
    const index = this.active ? (this.rowIndex.get(this.active) ?? 0) : 0;
    const row = this.rows[index];
    const page = Math.max(1, Math.floor(this.options.container.clientHeight / rowHeight) - 1);
    const go = (i: number) => {
      const target = this.rows[Math.max(0, Math.min(this.rows.length - 1, i))];
      if (target) this.activate(target.entry.path);
    };
    switch (event.key) {
      case "ArrowDown":
        go(index + 1);
        break;
      case "ArrowUp":
        go(index - 1);
        break;
      case "Home":
        go(0);
        break;
      case "End":
        go(this.rows.length - 1);
        break;
      case "PageDown":
        go(index + page);
        break;
      case "PageUp":
        go(index - page);
        break;
      case "ArrowRight":
        if (row?.entry.kind !== "dir") break;
        if (row.expanded) go(index + 1);
        else this.toggle(row.entry);
        break;
      case "ArrowLeft":
        if (row?.entry.kind === "dir" && row.expanded) this.toggle(row.entry);
        else if (row) {
          const parent = ancestorsOf(row.entry.path).pop();
          if (parent && parent !== rootPath) this.activate(parent);
        }
        break;
      case "Enter":
      case " ":
        if (!row) break;
        if (row.entry.kind === "dir") this.toggle(row.entry);
        else this.options.onOpen(row.entry);
        break;
      default:
        return;
    }
    event.preventDefault();
  }
}

function isDir(entry: Entry): entry is DirEntry {
  return entry.kind === "dir";
}

/** Paths never contain "_", so this id is unique per path. */
function rowId(path: string): string {
  return `row${path.replaceAll("/", "_")}`;
}
