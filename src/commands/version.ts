import { release } from "node:os";
import { defineBerthCommand } from "./_command.ts";
import { VERSION, ENGINE_MAX_API, ENGINE_MIN_API, GIT_COMMIT, BUILD_TIME } from "../version.ts";
import { CLIENT_MAX_API } from "../client/index.ts";
import { compileTemplate } from "./_format/template.ts";

export default defineBerthCommand({
  meta: { name: "version", description: "Show the berth version information", usage: "[OPTIONS]", maxArgs: 0 },
  args: {
    format: {
      type: "string",
      alias: "f",
      description:
        "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template",
    },
  },
  run({ flags, ctx }) {
    const arch = process.arch === "x64" ? "amd64" : process.arch;
    // the client's API version is the newest it speaks (client mode negotiates down from it); the engine's
    // are what `berth daemon` serves: 1.41 on both was a constant neither side used
    const info = {
      Version: VERSION,
      ApiVersion: CLIENT_MAX_API,
      GitCommit: GIT_COMMIT,
      BuildTime: BUILD_TIME,
      Os: "linux",
      Arch: arch,
      BunVersion: Bun.version,
    };
    // docker's shape, so `version --format '{{.Server.Version}}'` works in scripts; berth's engine is
    // this same binary (no daemon), so Server repeats the client's version
    const server = {
      Platform: { Name: "berth" },
      Version: VERSION,
      ApiVersion: ENGINE_MAX_API,
      MinAPIVersion: ENGINE_MIN_API,
      GitCommit: GIT_COMMIT,
      BuildTime: BUILD_TIME,
      Os: "linux",
      Arch: arch,
      KernelVersion: release(),
      Components: [
        {
          Name: "Engine",
          Version: VERSION,
          Details: { ApiVersion: ENGINE_MAX_API, MinAPIVersion: ENGINE_MIN_API, Os: "linux", Arch: arch, KernelVersion: release() },
        },
      ],
    };
    const all = { Client: { Platform: { Name: "berth" }, ...info }, Server: server };
    const f = typeof flags.format === "string" ? flags.format : "";
    if (f === "json") return ctx.out(JSON.stringify(all) + "\n");
    if (f !== "") return ctx.out(compileTemplate(f)(all) + "\n");
    // docker's layout: the Client part, then the Server part with its Engine component (berth's engine
    // is this binary, so it reports the same build); keys padded to one column as docker's tabwriter
    const line = (indent: string, k: string, v: string) => `${indent}${`${k}:`.padEnd(19 - indent.length + 1)}${v}\n`;
    const build = (indent: string) => (BUILD_TIME ? line(indent, "Git commit", GIT_COMMIT) + line(indent, "Built", ansic(new Date(BUILD_TIME))) : "");
    ctx.out(
      "Client: berth\n" +
        line(" ", "Version", info.Version) +
        line(" ", "API version", info.ApiVersion) +
        line(" ", "Bun version", info.BunVersion) +
        build(" ") +
        line(" ", "OS/Arch", `${info.Os}/${info.Arch}`) +
        line(" ", "Context", "default") +
        "\nServer: berth\n Engine:\n" +
        line("  ", "Version", server.Version) +
        line("  ", "API version", `${server.ApiVersion} (minimum version ${server.MinAPIVersion})`) +
        line("  ", "Bun version", info.BunVersion) +
        build("  ") +
        line("  ", "OS/Arch", `${server.Os}/${server.Arch}`) +
        line("  ", "Experimental", "false"),
    );
  },
});

/** Go's time.ANSIC in local time, as docker prints "Built:" ("Mon Jan  2 15:04:05 2006") */
export function ansic(d: Date): string {
  const day = d.toLocaleString("en-US", { weekday: "short" });
  const mon = d.toLocaleString("en-US", { month: "short" });
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${day} ${mon} ${String(d.getDate()).padStart(2, " ")} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}
