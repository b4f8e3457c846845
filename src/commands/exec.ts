/** `berth exec`: a new process in a running container; exits with its status (126/127 when it cannot run) */
import { defineBerthCommand } from "./_command.ts";
import { openSession } from "./_session.ts";
import { ArgCountError, during } from "./_exit-codes.ts";
import { execEnv, readEnvFiles } from "./_container-opts.ts";

export default defineBerthCommand({
  meta: {
    name: "exec",
    description: "Execute a command in a running container",
    usage: "[OPTIONS] CONTAINER COMMAND [ARG...]",
    aliases: ["berth container exec", "berth exec"],
    stopAtPositional: true,
    minArgs: 1,
    exitPolicy: "exec",
  },
  args: {
    detach: { type: "boolean", alias: "d", description: "Detached mode: run command in the background" },
    "detach-keys": { type: "string", description: "Override the key sequence for detaching a container" },
    env: { type: "string", multiple: true, alias: "e", description: "Set environment variables" },
    "env-file": { type: "string", multiple: true, description: "Read in a file of environment variables" },
    interactive: { type: "boolean", alias: "i", description: "Keep STDIN open even if not attached" },
    privileged: { type: "boolean", description: "Give extended privileges to the command" },
    tty: { type: "boolean", alias: "t", description: "Allocate a pseudo-TTY" },
    user: { type: "string", alias: "u", description: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    workdir: { type: "string", alias: "w", description: "Working directory inside the container" },
  },
  async run({ flags, positionals, rest, ctx }) {
    if (rest.length === 0) {
      throw new ArgCountError("'berth exec' requires at least 2 arguments");
    }
    const svc = (await ctx.engine()).containers;
    const id = svc.resolve(positionals[0]!);
    const tty = !!flags.tty,
      interactive = !!flags.interactive,
      detach = !!flags.detach;
    const files = readEnvFiles((flags["env-file"] as string[]) ?? []);
    // `-e VAR` takes this client's value: the engine gets KEY=VAL only
    const env = execEnv(files, (flags.env as string[]) ?? [], ctx.env);
    const s = detach ? undefined : await openSession({ tty, stdin: interactive, stdout: true, stderr: true, sigProxy: true, kill: () => {} });
    let pid = 0;
    if (s && !tty) {
      for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => pid && process.kill(pid, sig));
    }
    try {
      // docker: a process that cannot be set up (user, working directory, …) is the runtime's failure, 126
      return await during("exec", () =>
        svc.exec(
          id,
          {
            cmd: rest,
            env,
            workdir: typeof flags.workdir === "string" ? flags.workdir : undefined,
            user: typeof flags.user === "string" ? flags.user : undefined,
            tty,
            interactive,
            privileged: !!flags.privileged,
            detach,
          },
          {
            stdin: s?.local.stdin,
            stdout: s?.local.stdout ?? (() => {}),
            stderr: s?.local.stderr ?? (() => {}),
            initialSize: s?.initialSize,
            onResizer: s?.onResizer,
            onStarted: (p) => ((pid = p), s?.onStarted(p)),
          },
        ),
      );
    } finally {
      s?.dispose();
    }
  },
});
