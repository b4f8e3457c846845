/**
 * Client mode `inspect` (and `container|image|network|volume inspect`): each reference looked up by
 * kind through the daemon (`/containers/{id}/json`, `/images/{name}/json`, `/networks/{id}`,
 * `/volumes/{name}`; plain `inspect` tries them in that order), printed by inspect's own printer.
 */
import type { RunInput } from "../_command.ts";
import { DaemonError, type ApiClient } from "../../client/index.ts";
import { EngineError } from "../../lib/errors.ts";
import { printInspect } from "../inspect.ts";

type Kind = "container" | "image" | "network" | "volume";
const KINDS: Kind[] = ["container", "image", "network", "volume"];

function pathOf(kind: Kind, ref: string, size: boolean): [string, Record<string, boolean>] {
  switch (kind) {
    case "container":
      return [`/containers/${encodeURIComponent(ref)}/json`, { size }];
    case "image":
      return [`/images/${ref}/json`, {}];
    case "network":
      return [`/networks/${encodeURIComponent(ref)}`, {}];
    case "volume":
      return [`/volumes/${encodeURIComponent(ref)}`, {}];
  }
}

export default async function inspect(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  const path = (flags.__path as string[]) ?? ["inspect"];
  const group = path.length === 2 && path[1] === "inspect" ? (path[0] as Kind) : undefined;
  const type = group ?? (typeof flags.type === "string" ? flags.type : "");
  if (!["", ...KINDS].includes(type)) {
    throw new EngineError(
      "invalid_argument",
      `unknown type: ${JSON.stringify(type)}: must be one of "config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"`,
    );
  }
  const kinds = type === "" ? KINDS : [type as Kind];
  const out: unknown[] = [];
  let failed = false;
  for (const ref of positionals) {
    let obj: unknown;
    for (const k of kinds) {
      const [p, query] = pathOf(k, ref, !!flags.size);
      try {
        obj = await api.json("GET", p, { query });
        break;
      } catch (e) {
        if (!(e instanceof DaemonError && e.status === 404)) throw e;
        if (type === "network") {
          process.stderr.write(`${e.message}\n`);
          failed = true;
        }
      }
    }
    if (obj === undefined) {
      if (type !== "network") process.stderr.write(`Error: No such ${type === "" ? "object" : type}: ${ref}\n`);
      failed = true;
      continue;
    }
    out.push(obj);
  }
  printInspect(ctx, flags.format, out);
  return failed ? 1 : 0;
}
