/** `berth attach`: stream a running container's output (and stdin with its -i) through its supervisor's socket */
import { defineBerthCommand } from "./_command.ts";
import { attachSession } from "./_session.ts";
import { detachKeys } from "./_detach-keys.ts";

export default defineBerthCommand({
  meta: {
    name: "attach",
    description: "Attach local standard input, output, and error streams to a running container",
    usage: "[OPTIONS] CONTAINER",
    aliases: ["berth container attach", "berth attach"],
    minArgs: 1,
    maxArgs: 1,
  },
  args: {
    "detach-keys": { type: "string", description: "Override the key sequence for detaching a container" },
    "no-stdin": { type: "boolean", description: "Do not attach STDIN" },
    "sig-proxy": { type: "boolean", default: true, description: "Proxy all received signals to the process" },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const id = svc.resolve(positionals[0]!);
    const cfg = svc.store.readConfig(id);
    const wantStdin = cfg.Config.OpenStdin && !flags["no-stdin"];
    const keys = detachKeys(flags["detach-keys"], ctx.env);
    const r = await attachSession(svc, id, { stdin: wantStdin, stdout: true, stderr: true, sigProxy: flags["sig-proxy"] !== false, keys });
    // docker's attach returns the escape as its error: "read escape sequence", exit 1
    if (r.detached) {
      process.stderr.write("read escape sequence\n");
      return 1;
    }
    return r.code;
  },
});
