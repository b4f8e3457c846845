/** Client mode `volume ls|create|rm`: docker's `/volumes` calls, printed as the daemonless CLI prints */
import type { RunInput } from "../_command.ts";
import { filtersParam, type ApiClient } from "../../client/index.ts";
import type { Volume } from "../../engine/index.ts";
import { UsageError } from "../../lib/errors.ts";
import { printVolumes } from "../volume.ts";
import { eachRef } from "./simple.ts";

function kv(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of (list as string[]) ?? []) {
    const i = l.indexOf("=");
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? "" : l.slice(i + 1);
  }
  return out;
}

export async function ls(input: RunInput, api: ApiClient) {
  const r = await api.json<{ Volumes: Volume[] | null }>("GET", "/volumes", { query: { filters: filtersParam(input.flags.filter as string[]) } });
  printVolumes(
    input.ctx,
    input.flags,
    (r?.Volumes ?? []).sort((a, b) => a.Name.localeCompare(b.Name)),
  );
}

export async function create(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  if (flags.name && positionals[0] && flags.name !== positionals[0])
    throw new UsageError("conflicting options: either specify --name or provide positional arg, not both");
  const v = await api.json<Volume>("POST", "/volumes/create", {
    json: { Name: flags.name || positionals[0] || "", Driver: flags.driver || "local", DriverOpts: kv(flags.opt), Labels: kv(flags.label) },
  });
  ctx.out(v.Name + "\n");
}

export function rm(input: RunInput, api: ApiClient) {
  return eachRef(input, async (name) => {
    await api.ok("DELETE", `/volumes/${encodeURIComponent(name)}`, { query: { force: !!input.flags.force } });
    return name;
  });
}
