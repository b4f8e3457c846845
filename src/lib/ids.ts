/** IDs are full 64-hex internally; the 12-character form is for human output only (STYLE §2). */
import { randomBytes } from "node:crypto";

export function newId(): string {
  return randomBytes(32).toString("hex");
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}
