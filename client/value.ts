// A file's value: its bytes (any bytes, not only UTF-8), with `text()` for the
// common case of text.

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class Value extends Uint8Array {
  /** The bytes as UTF-8 text (invalid sequences become U+FFFD). */
  text(): string {
    return decoder.decode(this);
  }
}

export function toValue(bytes: Uint8Array | string): Value {
  const source = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  const value = new Value(source.length);
  value.set(source);
  return value;
}

export function toBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}
