/** Client mode `version`: the client's half, then the daemon's `GET /version` as docker prints it */
import type { RunInput } from "../_command.ts";
import type { ApiClient } from "../../client/index.ts";
import { CLIENT_MAX_API } from "../../client/index.ts";
import { VERSION } from "../../version.ts";
import { compileTemplate } from "../_format/template.ts";

interface ServerVersion {
  Platform?: { Name?: string };
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os: string;
  Arch: string;
  KernelVersion?: string;
  BuildTime?: string;
  Components?: { Name: string; Version: string; Details?: Record<string, string> }[];
}

export default async function version(input: RunInput, api: ApiClient) {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const f = typeof input.flags.format === "string" ? input.flags.format : "";
  const clientText = (v: string, down: string, context: string) =>
    `Client: berth\n Version:           ${VERSION}\n API version:       ${v}${down}\n Bun version:       ${Bun.version}\n` +
    ` OS/Arch:           linux/${arch}\n Context:           ${context}\n`;
  let negotiated: string;
  try {
    negotiated = await api.apiVersion();
  } catch (e) {
    // docker prints its own half before the daemon's error
    if (f === "") input.ctx.out(clientText(CLIENT_MAX_API, "", api.endpoint.context ?? "default"));
    throw e;
  }
  const client = {
    Platform: { Name: "berth" },
    Version: VERSION,
    ApiVersion: negotiated,
    DefaultAPIVersion: CLIENT_MAX_API,
    Os: "linux",
    Arch: arch,
    BunVersion: Bun.version,
    Context: api.endpoint.context ?? "default",
  };
  const server = await api.json<ServerVersion>("GET", "/version");
  const all = { Client: client, Server: server };
  if (f === "json") return input.ctx.out(JSON.stringify(all) + "\n");
  if (f !== "") return input.ctx.out(compileTemplate(f)(all) + "\n");
  const down = negotiated !== CLIENT_MAX_API ? ` (downgraded from ${CLIENT_MAX_API})` : "";
  let s = `${clientText(negotiated, down, client.Context)}\n`;
  s += `Server: ${server.Platform?.Name ?? ""}\n`;
  const comps = server.Components?.length ? server.Components : [{ Name: "Engine", Version: server.Version, Details: {} as Record<string, string> }];
  for (const c of comps) {
    s += ` ${c.Name}:\n  Version:          ${c.Version}\n`;
    if (c.Name === "Engine") {
      s += `  API version:      ${server.ApiVersion} (minimum version ${server.MinAPIVersion ?? server.ApiVersion})\n`;
      if (server.GitCommit) s += `  Git commit:       ${server.GitCommit}\n`;
      if (server.BuildTime) s += `  Built:            ${server.BuildTime}\n`;
      s += `  OS/Arch:          ${server.Os}/${server.Arch}\n`;
    } else if (c.Details?.GitCommit) s += `  GitCommit:        ${c.Details.GitCommit}\n`;
  }
  input.ctx.out(s);
}
