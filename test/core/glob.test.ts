import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CodedError } from "../../core/errors";
import { compileGlob } from "../../core/glob";
import { pathBytesMax } from "../../core/limits";

describe("compileGlob matching", () => {
  // [glob, path, matches]
  const cases: [string, string, boolean][] = [
    // The SPEC's examples.
    ["/a/*", "/a/b", true],
    ["/a/*", "/a/b/c", false],
    ["/a/*", "/a", false],
    ["/a/**", "/a/b", true],
    ["/a/**", "/a/b/c", true],
    ["/**", "/a", true],
    ["/**", "/a/b/c/d", true],
    ["/a?c", "/abc", true],
    ["/a?c", "/a/c", false],
    ["/x/*.json", "/x/app.json", true],
    ["/a/**/f", "/a/f", false],
    // Literals, anchored at both ends.
    ["/a", "/a", true],
    ["/a", "/ab", false],
    ["/a", "/a/b", false],
    ["/a/b", "/a", false],
    ["/b", "/a/b", false],
    ["/a.b", "/a.b", true],
    ["/a.b", "/axb", false], // `.` is literal, not "any character"
    ["/a-c", "/a-c", true],
    ["/a-c", "/abc", false], // `-` is literal, not a range
    ["/A", "/a", false], // case matters
    // `?`: exactly one character other than `/`.
    ["/?", "/a", true],
    ["/?", "/", false],
    ["/?", "/ab", false],
    ["/a?", "/a", false],
    ["/??", "/ab", true],
    ["/a/?", "/a/.", true],
    ["/a?b", "/a.b", true],
    // `*`: any run, maybe empty, not crossing `/`.
    ["/a*", "/a", true],
    ["/a*", "/abc", true],
    ["/a*", "/a/b", false],
    ["/*", "/a", true],
    ["/*", "/a/b", false],
    ["/*b", "/b", true],
    ["/*b", "/ab", true],
    ["/*b", "/abc", false],
    ["/a*b*c", "/abc", true],
    ["/a*b*c", "/aXbYc", true],
    ["/a*b*c", "/aXbY/c", false],
    ["/a/*/c", "/a/b/c", true],
    ["/a/*/c", "/a/b/b/c", false],
    ["/*.json", "/x/app.json", false],
    ["/x/*.json", "/x/app.yaml", false],
    ["/x/*.json", "/x/.json", true], // the run may be empty
    // `**`: any run including `/`, maybe empty.
    ["/**", "/", true], // the root is no file, but the glob does match its path
    ["/a**", "/a", true],
    ["/a**", "/a/b/c", true],
    ["/a**", "/b", false],
    ["/a/**", "/a", false],
    ["/a/**", "/ab", false],
    ["/a/**/f", "/a/b/f", true],
    ["/a/**/f", "/a/b/c/f", true],
    ["/a/**/f", "/a/b/c/g", false],
    ["/a/**/f", "/a/bf", false],
    ["/a/**f", "/a/f", true],
    ["/a/**f", "/a/b/f", true],
    ["/a/**f", "/a/b/fg", false],
    ["/**/x", "/x", false],
    ["/**/x", "/a/x", true],
    ["/**/x", "/a/b/x", true],
    ["/**x", "/x", true],
    ["/**/*.json", "/a/b/c.json", true],
    ["/**/*.json", "/a/b/c.json/d", false],
    ["/***", "/a/b", true], // more stars than two still cross `/`
    ["/a/**/b/**/c", "/a/b/c", false],
    ["/a/**/b/**/c", "/a/x/b/y/c", true],
    ["/a/**/b/**/c", "/a/b/b/b/c", true],
    // The root glob matches only the root path.
    ["/", "/", true],
    ["/", "/a", false],
  ];

  it.each(cases)("%j on %j → %s", (glob, path, expected) => {
    expect(compileGlob(glob).matches(path)).toBe(expected);
  });

  it("is fast on a glob that would make a backtracking regex explode", () => {
    const glob = `/${"*a".repeat(30)}*b`;
    const path = `/${"a".repeat(4000)}`;
    const started = performance.now();
    expect(compileGlob(glob).matches(path)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("agrees with a reference regex on random globs and paths", () => {
    const alphabet = fc.constantFrom("a", "b", "/");
    const globChar = fc.constantFrom("a", "b", "/", "*", "?", "**");
    const reference = (glob: string) =>
      new RegExp(
        `^${glob.replace(/\*\*+|\*|\?/g, (token) => (token === "?" ? "[^/]" : token === "*" ? "[^/]*" : ".*"))}$`,
      );
    fc.assert(
      fc.property(fc.array(globChar, { maxLength: 8 }), fc.array(alphabet, { maxLength: 8 }), (g, p) => {
        const glob = `/${g.join("")}`;
        const path = `/${p.join("")}`;
        const valid = /^\/$|^(\/([a-zA-Z0-9.-]|[*?])+)+$/.test(glob);
        fc.pre(valid);
        expect(compileGlob(glob).matches(path)).toBe(reference(glob).test(path));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("compileGlob validity", () => {
  it.each([
    "/",
    "/a",
    "/*",
    "/**",
    "/?",
    "/a/*/b",
    "/a.b-c/*.json",
    "/a/../b", // a glob may say `..`; it matches no path
    `/${"*".repeat(pathBytesMax - 1)}`,
  ])("accepts %j", (glob) => {
    expect(compileGlob(glob).source).toBe(glob);
  });

  it.each([
    ["", "empty"],
    ["*", "relative"],
    ["a/*", "relative with a slash"],
    ["/a/", "trailing slash"],
    ["//", "two slashes"],
    ["/a//b", "empty name"],
    ["/a b", "a space"],
    ["/a%2A", "percent-encoding"],
    ["/[ab]", "brackets are not glob syntax"],
    ["/{a,b}", "braces are not glob syntax"],
    ["/é", "non-ASCII"],
    [`/${"*".repeat(pathBytesMax)}`, "over pathBytesMax bytes"],
  ])("refuses %j (%s) with BAD_PATH", (glob) => {
    let thrown: unknown;
    try {
      compileGlob(glob);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CodedError);
    expect((thrown as CodedError).code).toBe("BAD_PATH");
  });
});

describe("compileGlob literalPrefix", () => {
  it.each([
    ["/", "/"],
    ["/a", "/"],
    ["/a/b", "/a"],
    ["/a/b/*", "/a/b"],
    ["/a/b/**", "/a/b"],
    ["/**", "/"],
    ["/*/b", "/"],
    ["/a/x*/c", "/a"],
    ["/a/?/c", "/a"],
    ["/a/b/c.json", "/a/b"],
    ["/a**", "/"],
  ])("%j → %j", (glob, prefix) => {
    expect(compileGlob(glob).literalPrefix).toBe(prefix);
  });
});

describe("compileGlob mayMatchBelow", () => {
  it.each([
    ["/a/*", "/", true],
    ["/a/*", "/a", true],
    ["/a/*", "/b", false],
    ["/a/*", "/a/b", false],
    ["/a/**", "/a/b/c", true],
    ["/**", "/", true],
    ["/**", "/x/y", true],
    ["/a/*/c", "/a/x", true],
    ["/a/*/c", "/a/x/y", false],
    ["/a*", "/", true],
    ["/a*", "/ab", false],
    ["/", "/", false],
  ])("%j below %j → %s", (glob, dir, expected) => {
    expect(compileGlob(glob).mayMatchBelow(dir)).toBe(expected);
  });
});
