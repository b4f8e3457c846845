/** Client mode `network ls|create|rm|connect|disconnect`: docker's `/networks` calls, printed as the daemonless CLI prints */
import type { RunInput } from "../_command.ts";
import { filtersParam, type ApiClient } from "../../client/index.ts";
import type { Network } from "../../engine/index.ts";
import { UsageError } from "../../lib/errors.ts";
import { printNetworks } from "../network.ts";
import { eachRef } from "./simple.ts";

export async function ls(input: RunInput, api: ApiClient) {
  const rows = await api.json<Network[]>("GET", "/networks", { query: { filters: filtersParam(input.flags.filter as string[]) } });
  // docker's CLI sorts by name
  printNetworks(
    input.ctx,
    input.flags,
    (rows ?? []).sort((a, b) => a.Name.localeCompare(b.Name)),
  );
}

export async function create(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  const subnets = (flags.subnet as string[]) ?? [];
  const gateways = (flags.gateway as string[]) ?? [];
  if (gateways.length > subnets.length) throw new UsageError("every ip-range or gateway must have a corresponding subnet");
  const labels: Record<string, string> = {};
  for (const l of (flags.label as string[]) ?? []) {
    const i = l.indexOf("=");
    labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? "" : l.slice(i + 1);
  }
  const body = {
    Name: positionals[0]!,
    Driver: flags.driver || "bridge",
    Internal: !!flags.internal,
    Labels: labels,
    ...(subnets.length
      ? { IPAM: { Driver: "default", Config: subnets.map((s, i) => ({ Subnet: s, ...(gateways[i] ? { Gateway: gateways[i] } : {}) })) } }
      : {}),
  };
  const r = await api.json<{ Id: string; Warning?: string }>("POST", "/networks/create", { json: body });
  if (r.Warning) process.stderr.write(`WARNING: ${r.Warning}\n`);
  ctx.out(r.Id + "\n");
}

export function rm(input: RunInput, api: ApiClient) {
  return eachRef(
    input,
    async (ref) => {
      await api.ok("DELETE", `/networks/${encodeURIComponent(ref)}`);
      return ref;
    },
    // docker: -f ignores a network that is not there
    { forgive: (e) => !!input.flags.force && e.status === 404 },
  );
}

export async function connect(input: RunInput, api: ApiClient) {
  const { flags, positionals } = input;
  const aliases = (flags.alias as string[]) ?? [];
  await api.ok("POST", `/networks/${encodeURIComponent(positionals[0]!)}/connect`, {
    json: {
      Container: positionals[1]!,
      EndpointConfig: { ...(aliases.length ? { Aliases: aliases } : {}), ...(flags.ip ? { IPAMConfig: { IPv4Address: String(flags.ip) } } : {}) },
    },
  });
}

export async function disconnect(input: RunInput, api: ApiClient) {
  const { flags, positionals } = input;
  await api.ok("POST", `/networks/${encodeURIComponent(positionals[0]!)}/disconnect`, { json: { Container: positionals[1]!, Force: !!flags.force } });
}
