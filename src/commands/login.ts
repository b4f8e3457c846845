import { defineBerthCommand } from "./_command.ts";
import { EngineError, UsageError } from "../lib/errors.ts";
import { insecureFor } from "./pull.ts";

/** docker's server argument: a host[:port], optionally written as a URL */
export function serverDomain(arg: string | undefined): string {
  if (!arg) return "docker.io";
  const s = arg.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  if (s === "index.docker.io" || s === "registry-1.docker.io") return "docker.io";
  return s;
}

export default defineBerthCommand({
  meta: {
    name: "login",
    description: "Log in to a registry",
    usage: "[OPTIONS] [SERVER]",
    aliases: ["berth login"],
    maxArgs: 1,
  },
  args: {
    username: { type: "string", alias: "u", description: "Username" },
    password: { type: "string", alias: "p", description: "Password or Personal Access Token (PAT)" },
    "password-stdin": { type: "boolean", description: "Take the Password or Personal Access Token (PAT) from stdin" },
  },
  async run({ flags, positionals, ctx }) {
    const { dockerConfigPath, registryLogin } = await import("../engine/index.ts");
    const domain = serverDomain(positionals[0]);
    let password = flags.password as string | undefined;
    const username = flags.username as string | undefined;
    if (flags["password-stdin"]) {
      if (password) throw new UsageError("--password and --password-stdin are mutually exclusive");
      if (!username) throw new UsageError("Must provide --username with --password-stdin");
      password = (await Bun.stdin.text()).replace(/\r?\n$/, "");
    } else if (password) {
      process.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
    }
    if (!username || password === undefined || password === "") {
      throw new EngineError("invalid_argument", "Error: Cannot perform an interactive login from a non TTY device", {
        hint: "pass -u USER and --password-stdin (or -p)",
      });
    }
    await registryLogin(domain, { username, password }, { insecure: await insecureFor(ctx), configFile: dockerConfigPath(ctx.env) });
    ctx.out("Login Succeeded\n");
  },
});
