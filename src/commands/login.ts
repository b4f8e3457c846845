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
    const reg = await import("../image/registry/index.ts");
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
    const endpoint = reg.resolveEndpoint(domain, await insecureFor(ctx));
    const client = new reg.RegistryClient(endpoint, "", { credentials: { username, password }, attempts: 2 });
    try {
      await client.ping();
    } catch (e) {
      if (e instanceof reg.RegistryError && (e.status === 401 || e.status === 403)) {
        throw new EngineError("permission_denied", `login attempt to ${endpoint.base}/v2/ failed with status: ${e.status === 401 ? "401 Unauthorized" : "403 Forbidden"}`);
      }
      // docker prints the registry's answer alone, without berth's hint
      throw e instanceof EngineError ? new EngineError(e.kind, e.message, { cause: e }) : e;
    }
    reg.storeCredentials(domain, { username, password }, reg.dockerConfigPath(ctx.env));
    ctx.out("Login Succeeded\n");
  },
});
