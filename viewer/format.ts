// How values, sizes and revs read on screen. A value is any bytes: text is
// shown as text, anything else as a hex preview with its size, so that a
// binary file never turns into a row of replacement characters.

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The value as text if it is UTF-8 without control characters (other than tab and newlines). */
export function asText(value: Uint8Array): string | undefined {
  let text: string;
  try {
    text = strictUtf8.decode(value);
  } catch {
    return undefined;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text;
}

/** One short line: the text (newlines folded), or `hex 89 50 4e 47 … · 1.2 KB`. */
export function preview(value: Uint8Array, maxChars = 80): string {
  if (value.length === 0) return "(empty)";
  const text = asText(value);
  if (text !== undefined) {
    const line = text.replace(/\s+/g, " ").trim();
    return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
  }
  const shown = Math.min(value.length, 8);
  return `hex ${hex(value.subarray(0, shown))}${value.length > shown ? " …" : ""} · ${size(value.length)}`;
}

/** A hex dump, 16 bytes a line with offsets, for the editor's view of a binary file. */
export function hexDump(value: Uint8Array, maxBytes = 4096): string {
  const lines: string[] = [];
  const end = Math.min(value.length, maxBytes);
  for (let at = 0; at < end; at += 16) {
    lines.push(`${at.toString(16).padStart(6, "0")}  ${hex(value.subarray(at, Math.min(at + 16, end)))}`);
  }
  if (value.length > end) lines.push(`… ${size(value.length - end)} more`);
  return lines.join("\n");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** 0 B, 512 B, 1.2 KB, 3.4 MB. */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** 12,345: revs grow long, and grouped digits read faster. */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}
