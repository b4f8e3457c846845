/** `berth attach`: stream a running container's output (and stdin with its -i) through its supervisor's socket */
import { defineBerthCommand } from "./_command.ts";
import { openSession } from "./_session.ts";

export default defineBerthCommand({
  meta: { name: "attach", description: "Attach local standard input, output, and error streams to a running container", usage: "[OPTIONS] CONTAINER", aliases: ["berth container attach", "berth attach"], minArgs: 1, maxArgs: 1 },
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
    const s = await openSession({ tty: cfg.Config.Tty, stdin: wantStdin, stdout: true, stderr: true, sigProxy: flags["sig-proxy"] !== false, kill: (sig) => void svc.kill(id, sig).catch(() => {}) }); // a proxied signal may find the container exited: attach reports the end
    s.onStarted(0);
    try {
      return await svc.attach(id, { stdin: s.local.stdin, stdout: s.local.stdout, stderr: s.local.stderr, want: { stdin: wantStdin, stdout: true, stderr: true }, initialSize: s.initialSize, onResizer: s.onResizer });
    } finally {
      s.dispose();
    }
  },
});
