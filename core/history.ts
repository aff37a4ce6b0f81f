// The store keeps a window of history: every version of every path, every
// event and every pending pruning step is an item stamped with a rev, appended
// in rev order and dropped from the front once it falls out of the window.

/**
 * A list of items in ascending rev order that grows at the back and shrinks at
 * the front, each in amortized O(1), and finds an item by rev in O(log n).
 */
export class RevList<T extends { readonly rev: number }> {
  private items: T[] = [];
  // Items before `head` are dropped; the array is compacted once they are
  // half of it, so dropping never shifts the whole array.
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  /** The item at `index` counted from the oldest kept one. */
  at(index: number): T | undefined {
    return index < 0 ? undefined : this.items[this.head + index];
  }

  first(): T | undefined {
    return this.items[this.head];
  }

  last(): T | undefined {
    return this.head < this.items.length ? this.items[this.items.length - 1] : undefined;
  }

  push(item: T): void {
    const last = this.last();
    if (last !== undefined && item.rev < last.rev) {
      throw new Error(`RevList.push: rev ${item.rev} after rev ${last.rev}`);
    }
    this.items.push(item);
  }

  /** The index of the first item with rev ≥ `rev` (`length` if there is none). */
  firstIndexFrom(rev: number): number {
    let low = this.head;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.items[middle] as T).rev < rev) low = middle + 1;
      else high = middle;
    }
    return low - this.head;
  }

  /** The newest item with rev ≤ `rev`: the one in force at that rev. */
  inForceAt(rev: number): T | undefined {
    return this.at(this.firstIndexFrom(rev + 1) - 1);
  }

  /** Drops the `count` oldest items. */
  dropFirst(count: number): void {
    if (count <= 0) return;
    if (count > this.length) throw new Error(`RevList.dropFirst: ${count} of ${this.length}`);
    this.head += count;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Copies the items with rev ≥ `rev`, oldest first. */
  sliceFrom(rev: number): T[] {
    return this.items.slice(this.head + this.firstIndexFrom(rev));
  }
}
