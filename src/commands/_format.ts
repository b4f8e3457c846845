/**
 * The part of docker's Go-template `--format` that scripts use: `{{.A.B}}` paths, `{{json .X}}`, and
 * literal text around them. Anything else is refused clearly rather than guessed at.
 */
import { UsageError } from "../lib/errors.ts";

function lookup(v: unknown, path: string): unknown {
  if (path === "." || path === "") return v;
  let cur: any = v;
  for (const part of path.replace(/^\./, "").split(".")) {
    if (cur == null) return undefined;
    cur = cur[part];
  }
  return cur;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return "<no value>";
  if (typeof v === "object") return Array.isArray(v) ? `[${v.map(show).join(" ")}]` : `map[${Object.entries(v as object).map(([k, x]) => `${k}:${show(x)}`).join(" ")}]`;
  return String(v);
}

export function formatTemplate(tpl: string, value: unknown): string {
  return tpl.replace(/\{\{\s*(.*?)\s*\}\}/g, (_, expr: string) => {
    let m;
    if ((m = /^json\s+(\.[\w.]*)$/.exec(expr))) return JSON.stringify(lookup(value, m[1]!));
    if ((m = /^(\.[\w.]*)$/.exec(expr))) return show(lookup(value, m[1]!));
    throw new UsageError(`template: unsupported expression "{{${expr}}}" (berth supports {{.Path}} and {{json .Path}})`);
  }).replace(/\\n/g, "\n").replace(/\\t/g, "\t");
}
