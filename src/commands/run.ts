/**
 * `berth run`: create, then start. With -d a detached monitor supervises the container and the id is
 * printed once it runs; otherwise this process supervises it in the foreground (see
 * engine/containers/service.ts for why) and exits with the container's status.
 */
import { defineBerthCommand } from "./_command.ts";
import { checkCidfile, checkPull, ensureImage, createFlags, createWithPull } from "./create.ts";
import { runForeground } from "./_session.ts";
import { mark } from "../lib/trace.ts";
import { CliError } from "./_exit-codes.ts";
import { detachKeys } from "./_detach-keys.ts";

export default defineBerthCommand({
  meta: {
    lazyStdout: true,
    shortLived: true,
    name: "run",
    description: "Create and run a new container from an image",
    usage: "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    aliases: ["berth container run", "berth run"],
    stopAtPositional: true,
    minArgs: 1,
    exitPolicy: "run",
  },
  args: {
    ...createFlags,
    detach: { type: "boolean", alias: "d", description: "Run container in background and print container ID" },
    "sig-proxy": { type: "boolean", default: true, description: "Proxy received signals to the process" },
    "detach-keys": { type: "string", description: "Override the key sequence for detaching a container" },
  },
  async run(input) {
    const { flags, ctx } = input;
    checkPull(flags);
    checkCidfile(flags);
    // a failed pull is run's engine error, 125 (pull on its own exits 1): the "run" policy. Only
    // --pull=always pulls first; a missing image is the create's 404, then the pull (createWithPull)
    if (String(flags.pull ?? "missing") === "always") await ensureImage(ctx, flags, input.positionals[0]!);
    const detach = !!flags.detach;
    // docker's client checks the keys before it creates anything
    const keys = detach ? undefined : detachKeys(flags["detach-keys"], ctx.env);
    const svc = (await ctx.engine()).containers;
    mark("command: engine opened");
    // loaded once the engine is (start-up: the command's own module stays small)
    const [{ parseCreateFlags, daemonLog }, { isatty }] = await Promise.all([import("./_container-opts.ts"), import("../engine/index.ts")]);
    const { request, name, platform } = parseCreateFlags(input, { detach, clientEnv: ctx.env, defaultLog: daemonLog(ctx) });
    if (detach && Array.isArray(flags.attach) && flags.attach.length) {
      const { UsageError } = await import("../lib/errors.ts");
      throw new UsageError("conflicting options: cannot specify both --attach and --detach");
    }
    // docker checks this before creating anything: no container is left behind
    if (!detach && flags.tty && flags.interactive && !isatty(0)) throw new CliError("the input device is not a TTY", 1);
    mark("command: engine ready");
    const { Id: id } = await createWithPull(ctx, flags, input.positionals[0]!, () => svc.create(request, { name, platform, startsHere: !detach }));
    mark("engine: created");
    if (typeof flags.cidfile === "string") (await import("node:fs")).writeFileSync(flags.cidfile, id, { flag: "wx" });
    if (detach) {
      try {
        await svc.startDetached(id);
      } catch (e) {
        if (request.HostConfig?.AutoRemove) await svc.rm(id, true).catch(() => {}); // best-effort --rm after the start error, which is rethrown
        throw e;
      }
      ctx.out(id + "\n");
      return 0;
    }
    return runForeground(svc, id, { sigProxy: flags["sig-proxy"] !== false, detachKeys: keys });
  },
});
