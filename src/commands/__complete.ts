/**
 * hidden: `berth __complete -- CURRENT [WORDS…]` — the candidates for the word being typed, one per line,
 * for the scripts of `berth completion`. WORDS are the words before it (without the program name).
 * Commands and flags come from the command table; names of containers, images, networks and volumes from
 * this same binary's listings (in the root given by --root, as the user typed it).
 */
import { defineBerthCommand, type BerthCommand } from "./_command.ts";
import { commands } from "./index.ts";
import type { FlagDef, FlagsDef } from "./_parser.ts";

type Kind = "container" | "running" | "image" | "network" | "volume" | "none";

/** what the Nth positional of a command names (the last entry repeats) */
const POSITIONALS: Record<string, Kind[]> = {
  start: ["container"],
  stop: ["running"],
  kill: ["running"],
  restart: ["container"],
  rm: ["container"],
  wait: ["container"],
  logs: ["container", "none"],
  exec: ["running", "none"],
  attach: ["running", "none"],
  top: ["running", "none"],
  rename: ["container", "none"],
  pause: ["running"],
  unpause: ["container"],
  stats: ["running"],
  port: ["container", "none"],
  update: ["container"],
  diff: ["container", "none"],
  export: ["container", "none"],
  commit: ["container", "none"],
  inspect: ["container"],
  cp: ["container"],
  run: ["image", "none"],
  create: ["image", "none"],
  rmi: ["image"],
  push: ["image", "none"],
  tag: ["image", "none"],
  history: ["image", "none"],
  save: ["image"],
  "image inspect": ["image"],
  "image rm": ["image"],
  "image remove": ["image"],
  "image history": ["image", "none"],
  "image push": ["image", "none"],
  "image save": ["image"],
  "image tag": ["image", "none"],
  "network inspect": ["network"],
  "network rm": ["network"],
  "network remove": ["network"],
  "network connect": ["network", "container", "none"],
  "network disconnect": ["network", "container", "none"],
  "volume inspect": ["volume"],
  "volume rm": ["volume"],
  "volume remove": ["volume"],
};
/** flags whose value names something */
const FLAG_VALUES: Record<string, Kind> = { network: "network", net: "network", "volumes-from": "container", volume: "volume", v: "volume" };
const GLOBAL_VALUE_FLAGS = ["--root", "--log-level", "-l", "--storage-driver", "-s"];

function aliasesOf(def: FlagDef): string[] {
  return def.alias === undefined ? [] : Array.isArray(def.alias) ? def.alias : [def.alias];
}

/** the flag definition a word names (`--net`, `-v`, `--network=x`), if any */
function flagOf(word: string, defs: FlagsDef): [string, FlagDef] | undefined {
  if (word.startsWith("--")) {
    const key = word.slice(2).split("=")[0]!;
    const def = defs[key];
    return def ? [key, def] : Object.entries(defs).find(([, d]) => aliasesOf(d).includes(key));
  }
  if (word.startsWith("-") && word.length === 2) return Object.entries(defs).find(([, d]) => aliasesOf(d).includes(word[1]!));
  return undefined;
}

async function names(kind: Kind, root: string | undefined): Promise<string[]> {
  const listing: Record<Exclude<Kind, "none">, string[]> = {
    container: ["ps", "-a", "--format", "{{.Names}}"],
    running: ["ps", "--format", "{{.Names}}"],
    image: ["images", "--format", "{{.Repository}}:{{.Tag}}"],
    network: ["network", "ls", "--format", "{{.Name}}"],
    volume: ["volume", "ls", "--format", "{{.Name}}"],
  };
  if (kind === "none") return [];
  const compiled = Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");
  const self = compiled ? [process.execPath] : [process.execPath, Bun.main];
  const proc = Bun.spawn([...self, ...(root ? ["--root", root] : []), ...listing[kind]], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
  const text = await new Response(proc.stdout).text();
  await proc.exited;
  return text.split("\n").filter((n) => n !== "" && !n.includes("<none>"));
}

export async function candidates(current: string, words: string[]): Promise<string[]> {
  let root: string | undefined;
  let i = 0;
  for (; i < words.length && words[i]!.startsWith("-"); i++) {
    if (GLOBAL_VALUE_FLAGS.includes(words[i]!)) {
      if (words[i] === "--root") root = words[i + 1];
      i++;
    } else if (words[i]!.startsWith("--root=")) root = words[i]!.slice(7);
  }
  if (i >= words.length) {
    const prev = words[words.length - 1];
    if (prev === "-s" || prev === "--storage-driver") return [...(await import("../engine/index.ts")).storageDrivers().names].sort();
    if (prev === "-l" || prev === "--log-level") return ["debug", "error", "fatal", "info", "warn"];
    if (prev === "--root") return [];
    if (current.startsWith("-")) return ["--root", "--storage-driver", "--debug", "--log-level", "--version", "--help"];
    return [...new Set([...Object.keys(commands), "help"])].sort();
  }
  const path = [words[i]!];
  const lazy = commands[words[i]!];
  if (!lazy) return [];
  let cmd: BerthCommand = (await lazy()).default;
  i++;
  while (cmd.subCommands) {
    if (i >= words.length) return Object.keys(cmd.subCommands).sort();
    const next = cmd.subCommands[words[i]!];
    if (!next) return [];
    cmd = (await next()).default;
    path.push(words[i]!);
    i++;
  }
  const defs = cmd.args;
  // the value of a flag
  const prev = words[words.length - 1];
  if (words.length > i && prev !== undefined && !prev.includes("=")) {
    const f = flagOf(prev, defs);
    if (f && f[1].type !== "boolean") {
      if (f[1].type === "enum") return f[1].options ?? [];
      return names(FLAG_VALUES[f[0]] ?? "none", root);
    }
  }
  if (current.startsWith("-")) {
    const out: string[] = [];
    for (const [name, def] of Object.entries(defs)) {
      if (def.type === "positional" || def.hidden) continue;
      out.push(`--${name}`);
      for (const a of aliasesOf(def)) out.push(a.length === 1 ? `-${a}` : `--${a}`);
    }
    return [...out, "--help"].sort();
  }
  // which positional is being typed: words after the command that are neither flags nor their values
  let n = 0;
  for (let j = i; j < words.length; j++) {
    const w = words[j]!;
    if (w.startsWith("-") && w !== "-") {
      const f = flagOf(w, defs);
      if (f && f[1].type !== "boolean" && !w.includes("=") && !(w.length > 2 && !w.startsWith("--"))) j++;
      continue;
    }
    n++;
  }
  const kinds = POSITIONALS[path.join(" ")];
  if (!kinds) return [];
  const kind = kinds[Math.min(n, kinds.length - 1)]!;
  const found = await names(kind, root);
  // cp: CONTAINER:PATH
  return path[0] === "cp" ? found.map((c) => `${c}:`) : found;
}

export default defineBerthCommand({
  meta: { name: "__complete", description: "Complete a command line (internal)", usage: "-- CURRENT [WORDS...]" },
  args: {},
  async run({ rest, ctx }) {
    const current = rest[0] ?? "";
    const all = await candidates(current, rest.slice(1));
    const out = all.filter((c) => c.startsWith(current));
    if (out.length) ctx.out(out.join("\n") + "\n");
  },
});
