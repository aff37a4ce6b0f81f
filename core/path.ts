// Paths name files and implicit directories (SPEC §1 "Paths and globs").
// A valid path is ASCII, so its length in characters is its length in bytes.

import { CodedError } from "./errors";
import { pathBytesMax } from "./limits";

export const rootPath = "/";

const pathPattern = /^\/$|^(\/[a-zA-Z0-9.-]+)+$/;

/** Throws BAD_PATH unless `path` is a path a file or directory may have. */
export function validatePath(path: string): void {
  // Checked before the pattern so that a huge string costs nothing to refuse;
  // a string's length never exceeds its UTF-8 byte count.
  if (path.length > pathBytesMax) {
    throw new CodedError("BAD_PATH", `path is over ${pathBytesMax} bytes: ${abbreviate(path)}`);
  }
  if (!pathPattern.test(path)) {
    throw new CodedError("BAD_PATH", `bad path: ${JSON.stringify(abbreviate(path))}`);
  }
  // URLs fold `.` and `..` away, so such a path could never be addressed.
  for (const name of splitPath(path)) {
    if (name === "." || name === "..") {
      throw new CodedError("BAD_PATH", `bad path: ${JSON.stringify(path)} has a name "${name}"`);
    }
  }
}

export function isValidPath(path: string): boolean {
  try {
    validatePath(path);
    return true;
  } catch {
    return false;
  }
}

/** "/" → [], "/a/b" → ["a", "b"]. */
export function splitPath(path: string): string[] {
  return path === rootPath ? [] : path.slice(1).split("/");
}

/** "/a/b" → "/a", "/a" → "/". The root has no parent. */
export function parentOf(path: string): string {
  if (path === rootPath) throw new Error("parentOf: the root has no parent");
  const slash = path.lastIndexOf("/");
  return slash === 0 ? rootPath : path.slice(0, slash);
}

/** "/a/b" → "b". The root has no name. */
export function nameOf(path: string): string {
  if (path === rootPath) throw new Error("nameOf: the root has no name");
  return path.slice(path.lastIndexOf("/") + 1);
}

/** ("/", "a") → "/a", ("/a", "b") → "/a/b". */
export function joinPath(dir: string, name: string): string {
  return dir === rootPath ? `/${name}` : `${dir}/${name}`;
}

/** "/a/b/c" → ["/a", "/a/b"]: every directory above the path except the root, outermost first. */
export function ancestorsOf(path: string): string[] {
  const ancestors: string[] = [];
  for (let slash = path.indexOf("/", 1); slash !== -1; slash = path.indexOf("/", slash + 1)) {
    ancestors.push(path.slice(0, slash));
  }
  return ancestors;
}

/** Keeps error messages short when a caller sends a megabyte of path. */
function abbreviate(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
