// Values in JSON: UTF-8 text as it is, anything else (or on request) as base64,
// so that no byte is ever lost (SPEC §2).

// ignoreBOM: true keeps a leading byte-order mark as text instead of dropping it: no byte is lost.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

export interface EncodedValue {
  value: string;
  encoding?: "base64";
}

export function encodeValue(bytes: Uint8Array, base64: boolean): EncodedValue {
  if (!base64) {
    try {
      return { value: strictUtf8.decode(bytes) };
    } catch {
      // Not UTF-8: fall through to base64.
    }
  }
  return { value: bytesToBase64(bytes), encoding: "base64" };
}

export function decodeValue(value: string, encoding: "base64" | undefined): Uint8Array {
  return encoding === "base64" ? base64ToBytes(value) : utf8.encode(value);
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/** Throws on text that is not base64. */
export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
