import { describe, expect, it } from "vitest";
import { CodedError } from "../../core/errors";
import { pathBytesMax } from "../../core/limits";
import {
  ancestorsOf,
  isValidPath,
  joinPath,
  nameOf,
  parentOf,
  splitPath,
  validatePath,
} from "../../core/path";

/** A valid path of exactly `bytes` bytes: "/" then a run of "a" names. */
function pathOfBytes(bytes: number): string {
  return `/${"a".repeat(bytes - 1)}`;
}

describe("validatePath", () => {
  it.each([
    ["/", "the root"],
    ["/a", "one name"],
    ["/a/b/c", "nested names"],
    ["/A-Z.0-9", "every kind of character of the alphabet"],
    ["/a.b", "a dot inside a name"],
    ["/...", "three dots is a name like any other"],
    ["/.a", "a name starting with a dot"],
    ["/a..", "a name ending with two dots"],
    ["/-", "a dash alone"],
    ["/ctl/node/0", "digits"],
    [pathOfBytes(pathBytesMax), "exactly pathBytesMax bytes"],
    [`/${"a/".repeat(2047)}a`, "2048 one-letter names, 4096 bytes"],
  ])("accepts %j (%s)", (path) => {
    expect(() => validatePath(path)).not.toThrow();
    expect(isValidPath(path)).toBe(true);
  });

  it.each([
    ["", "empty"],
    ["a", "relative"],
    ["a/b", "relative with a slash"],
    ["/a/", "trailing slash"],
    ["//", "two slashes"],
    ["//a", "empty first name"],
    ["/a//b", "empty name in the middle"],
    ["/.", "a name ."],
    ["/..", "a name .."],
    ["/a/./b", ". in the middle"],
    ["/a/../b", ".. in the middle"],
    ["/a/.", ". at the end"],
    ["/a/..", ".. at the end"],
    ["/a b", "a space"],
    ["/a%20b", "percent-encoding is not decoded"],
    ["/é", "non-ASCII"],
    ["/a_b", "an underscore"],
    ["/a*", "a glob star"],
    ["/a?", "a glob question mark"],
    ["/a\\b", "a backslash"],
    ["/a\n", "a newline"],
    ["/a\u0000", "a NUL"],
    [pathOfBytes(pathBytesMax + 1), "one byte over pathBytesMax"],
    [`/${"é".repeat(pathBytesMax)}`, "far over the limit"],
  ])("refuses %j (%s) with BAD_PATH", (path) => {
    expect(isValidPath(path)).toBe(false);
    let thrown: unknown;
    try {
      validatePath(path);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CodedError);
    expect((thrown as CodedError).code).toBe("BAD_PATH");
  });

  it("names the path in its message", () => {
    expect(() => validatePath("/a b")).toThrow(/\/a b/);
    expect(() => validatePath("/a/../b")).toThrow(/\/a\/\.\.\/b/);
  });
});

describe("path helpers", () => {
  it.each([
    ["/", []],
    ["/a", ["a"]],
    ["/a/b", ["a", "b"]],
    ["/a.b/c-d/e", ["a.b", "c-d", "e"]],
  ])("splitPath(%j) is %j", (path, names) => {
    expect(splitPath(path)).toEqual(names);
  });

  it.each([
    ["/a", "/", "a"],
    ["/a/b", "/a", "b"],
    ["/a/b/c", "/a/b", "c"],
    ["/x.y/z", "/x.y", "z"],
  ])("%j has parent %j and name %j", (path, parent, name) => {
    expect(parentOf(path)).toBe(parent);
    expect(nameOf(path)).toBe(name);
    expect(joinPath(parent, name)).toBe(path);
  });

  it("refuses the root's parent and name", () => {
    expect(() => parentOf("/")).toThrow();
    expect(() => nameOf("/")).toThrow();
  });

  it.each([
    ["/", "a", "/a"],
    ["/a", "b", "/a/b"],
    ["/a/b", "c", "/a/b/c"],
  ])("joinPath(%j, %j) is %j", (dir, name, path) => {
    expect(joinPath(dir, name)).toBe(path);
  });

  it.each([
    ["/", []],
    ["/a", []],
    ["/a/b", ["/a"]],
    ["/a/b/c", ["/a", "/a/b"]],
  ])("ancestorsOf(%j) is %j", (path, ancestors) => {
    expect(ancestorsOf(path)).toEqual(ancestors);
  });
});
