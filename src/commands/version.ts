import { defineBerthCommand } from "./_command.ts";
import { VERSION, API_VERSION } from "../version.ts";

export default defineBerthCommand({
  meta: { name: "version", description: "Show the berth version information", usage: "[OPTIONS]", maxArgs: 0 },
  args: {
    format: { type: "string", alias: "f", description: "Format output: json" },
  },
  run({ flags, ctx }) {
    const info = { Version: VERSION, ApiVersion: API_VERSION, Os: "linux", Arch: process.arch === "x64" ? "amd64" : process.arch, BunVersion: Bun.version };
    if (flags.format === "json") return ctx.out(JSON.stringify(info) + "\n");
    ctx.out(`Client: berth\n Version:           ${info.Version}\n API version:       ${info.ApiVersion}\n Bun version:       ${info.BunVersion}\n OS/Arch:           ${info.Os}/${info.Arch}\n`);
  },
});
