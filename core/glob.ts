// Globs select files for WALK, WAIT and WATCH (SPEC §1 "Paths and globs").
//
// A glob is matched by simulating its automaton rather than by a RegExp: a
// backtracking regex for `/*a*a*a*…` against a long path takes exponential
// time, and a glob comes straight from a client. The simulation costs at most
// (path length × glob length) steps, both bounded by pathBytesMax.

import { CodedError } from "./errors";
import { pathBytesMax } from "./limits";
import { rootPath, splitPath } from "./path";

export interface Glob {
  readonly source: string;
  /** Whether the whole path matches (globs are anchored at both ends). */
  matches(path: string): boolean;
  /** Whether some path below the directory `dir` could match: lets a walk skip whole subtrees. */
  mayMatchBelow(dir: string): boolean;
  /** The deepest directory every match lies below, e.g. `/a/b/*` → `/a/b`, `/**` → `/`. */
  readonly literalPrefix: string;
}

const globPattern = /^\/$|^(\/([a-zA-Z0-9.-]|[*?])+)+$/;

// A compiled glob is a list of tokens: a literal character code (≥ 0) or one of these.
const anyChar = -1; // `?`
const anyRun = -2; // `*`
const anyRunAcrossDirs = -3; // `**` (and `***`…: more stars add nothing)
const slash = "/".charCodeAt(0);

/** Throws BAD_PATH unless `glob` is well formed. */
export function compileGlob(glob: string): Glob {
  if (glob.length > pathBytesMax) {
    throw new CodedError("BAD_PATH", `glob is over ${pathBytesMax} bytes: ${glob.slice(0, 100)}…`);
  }
  if (!globPattern.test(glob)) {
    throw new CodedError("BAD_PATH", `bad glob: ${JSON.stringify(glob)}`);
  }
  const tokens = tokenize(glob);
  const automaton = new GlobAutomaton(tokens);
  return {
    source: glob,
    literalPrefix: literalPrefixOf(glob),
    matches: (path) => automaton.run(path).accepts,
    mayMatchBelow: (dir) => automaton.run(dir === rootPath ? rootPath : `${dir}/`).alive,
  };
}

function tokenize(glob: string): number[] {
  const tokens: number[] = [];
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === "?") {
      tokens.push(anyChar);
    } else if (char === "*") {
      if (glob[i + 1] === "*") {
        while (glob[i + 1] === "*") i++;
        tokens.push(anyRunAcrossDirs);
      } else {
        tokens.push(anyRun);
      }
    } else {
      tokens.push(glob.charCodeAt(i));
    }
  }
  return tokens;
}

function literalPrefixOf(glob: string): string {
  const names = splitPath(glob);
  const firstWild = names.findIndex((name) => name.includes("*") || name.includes("?"));
  // The last name is a file's name, never a directory to start from.
  const literalNames = names.slice(
    0,
    Math.min(firstWild === -1 ? names.length : firstWild, names.length - 1),
  );
  return literalNames.length === 0 ? rootPath : `/${literalNames.join("/")}`;
}

/**
 * State i means "tokens[0..i) have matched the input so far"; state
 * tokens.length accepts. A star may match the empty run, so being in a star's
 * state also puts us in the state after it.
 */
class GlobAutomaton {
  private readonly tokens: readonly number[];
  // Reused between runs: `mark[i] === generation` means state i is in the current set.
  private readonly mark: Float64Array;
  private generation = 0;

  constructor(tokens: readonly number[]) {
    this.tokens = tokens;
    // Float64, not Uint32: a generation counter must never wrap around.
    this.mark = new Float64Array(tokens.length + 1);
  }

  /** `accepts`: the input matches; `alive`: some longer input could still match. */
  run(input: string): { accepts: boolean; alive: boolean } {
    let states = this.closure([0]);
    for (let at = 0; at < input.length && states.length > 0; at++) {
      const char = input.charCodeAt(at);
      const next: number[] = [];
      for (const state of states) {
        const token = this.tokens[state];
        if (token === undefined) continue; // the accepting state consumes nothing
        if (token === anyRunAcrossDirs || (token === anyRun && char !== slash)) next.push(state);
        else if (token === char || (token === anyChar && char !== slash)) next.push(state + 1);
      }
      states = this.closure(next);
    }
    const end = this.tokens.length;
    return { accepts: states.includes(end), alive: states.some((state) => state < end) };
  }

  /** Adds the states reachable by letting stars match nothing, without duplicates. */
  private closure(states: number[]): number[] {
    this.generation++;
    const closed: number[] = [];
    for (let state of states) {
      while (this.mark[state] !== this.generation) {
        this.mark[state] = this.generation;
        closed.push(state);
        const token = this.tokens[state];
        if (token !== anyRun && token !== anyRunAcrossDirs) break;
        state++;
      }
    }
    return closed;
  }
}
