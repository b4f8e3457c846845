/**
 * Client mode `run` and `create`, docker's CLI sequence: the flags → the create request (the same
 * parsing as the daemonless CLI), `POST /containers/create` (a 404 "No such image" pulls, then creates
 * again), and for `run` without -d: attach (hijacked) before start, wait registered before start, start,
 * resize, then the container's exit status from the wait.
 */
import { writeFileSync } from "node:fs";
import type { RunInput } from "../_command.ts";
import type { ApiClient, HttpResponse } from "../../client/index.ts";
import { DaemonError, readAll } from "../../client/index.ts";
import { CliError, during } from "../_exit-codes.ts";
import { checkCidfile, checkPull } from "../create.ts";
import { detachKeys } from "../_detach-keys.ts";
import { remotePull } from "./pull.ts";
import { fireAndForget, openLocal, pump, resizeQuery, type HijackOptions } from "./_hijack.ts";
import { UsageError } from "../../lib/errors.ts";

const enc = encodeURIComponent;
const noop = () => undefined;

/** create the container as docker's CLI does (pull policy, the "Unable to find image" pull, warnings); its id */
export async function remoteCreate(
  input: RunInput,
  api: ApiClient,
  detach: boolean,
): Promise<{ id: string; tty: boolean; stdin: boolean; autoRemove: boolean; attach: { out: boolean; err: boolean } }> {
  const { flags, ctx } = input;
  checkPull(flags);
  checkCidfile(flags);
  const { parseCreateFlags } = await import("../_container-opts.ts");
  const { request, name, platform } = parseCreateFlags(input, { detach, clientEnv: ctx.env });
  if (detach && Array.isArray(flags.attach) && flags.attach.length) throw new UsageError("conflicting options: cannot specify both --attach and --detach");
  const image = input.positionals[0]!;
  const policy = String(flags.pull ?? "missing");
  const pull = () => during("pull", () => remotePull(ctx, api, image, { quiet: !!flags.quiet, platform, toStdout: false }));
  if (policy === "always") await pull();
  const create = () => api.json<{ Id: string; Warnings?: string[] | null }>("POST", "/containers/create", { query: { name, platform }, json: request });
  let r: { Id: string; Warnings?: string[] | null };
  try {
    r = await create();
  } catch (e) {
    if (!(e instanceof DaemonError && e.status === 404 && /No such image/i.test(e.daemonMessage)) || policy !== "missing") throw e;
    const { normalizeRef } = await import("../../engine/index.ts");
    process.stderr.write(`Unable to find image '${normalizeRef(image)}' locally\n`);
    await pull();
    r = await create();
  }
  for (const w of r.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
  const cidfile = typeof flags.cidfile === "string" ? flags.cidfile : undefined;
  if (cidfile) writeFileSync(cidfile, r.Id, { flag: "wx" });
  return {
    id: r.Id,
    tty: !!request.Tty,
    stdin: !!request.AttachStdin && !!request.OpenStdin,
    autoRemove: !!request.HostConfig?.AutoRemove,
    attach: { out: !!request.AttachStdout, err: !!request.AttachStderr },
  };
}

/** the wait's answer: docker's `{"StatusCode", "Error"}` */
async function waitResult(res: HttpResponse): Promise<number> {
  try {
    const text = new TextDecoder().decode(await readAll(res.body));
    const j = JSON.parse(text) as { StatusCode?: number; Error?: { Message?: string } | null };
    if (j.Error?.Message) process.stderr.write(`${j.Error.Message}\n`);
    return j.StatusCode ?? 0;
  } finally {
    res.conn.close();
  }
}

/** attach to `id` and start it (or attach to it running), as docker's run and start -a do; the exit status */
export async function attachAndStart(
  api: ApiClient,
  id: string,
  o: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean; sigProxy: boolean; keys?: Uint8Array; autoRemove: boolean; start: boolean },
): Promise<number> {
  const opts: HijackOptions = {
    tty: o.tty,
    stdin: o.stdin,
    stdout: o.stdout,
    stderr: o.stderr,
    sigProxy: o.sigProxy,
    keys: o.keys,
    kill: (sig) => fireAndForget(api, "POST", `/containers/${enc(id)}/kill`, { signal: sig }),
    resize: o.tty ? (s) => fireAndForget(api, "POST", `/containers/${enc(id)}/resize`, resizeQuery(s)) : undefined,
  };
  const s = await openLocal(opts);
  try {
    const res = await api.call("POST", `/containers/${enc(id)}/attach`, {
      query: { stream: true, stdin: o.stdin, stdout: o.stdout, stderr: o.stderr },
      hijack: true,
    });
    // the wait is registered before the start (docker's CLI: its response head arrives first), so a
    // container that ends at once is not missed
    const waiting = api.call("POST", `/containers/${enc(id)}/wait`, { query: { condition: o.autoRemove ? "removed" : "next-exit" } });
    // (a daemon that holds the head back until the exit is given 3 s, then started anyway)
    await Promise.race([waiting.then(noop, noop), Bun.sleep(3000)]);
    if (o.start) await api.ok("POST", `/containers/${enc(id)}/start`);
    const { detached } = await pump(res, s, opts);
    if (detached) {
      if (!o.start) process.stderr.write("read escape sequence\n");
      void waiting.then((r) => r.conn.close()).catch(() => {}); // the container runs on; the wait is dropped
      return o.start ? 0 : 1;
    }
    return await waitResult(await waiting);
  } finally {
    s.dispose();
  }
}

export async function run(input: RunInput, api: ApiClient): Promise<number> {
  const { flags, ctx } = input;
  const detach = !!flags.detach;
  const keys = detach ? undefined : detachKeys(flags["detach-keys"], ctx.env);
  if (!detach && flags.tty && flags.interactive) {
    const { isatty } = await import("../../engine/index.ts");
    if (!isatty(0)) throw new CliError("the input device is not a TTY", 1);
  }
  const c = await remoteCreate(input, api, detach);
  if (detach) {
    await api.ok("POST", `/containers/${enc(c.id)}/start`);
    ctx.out(c.id + "\n");
    return 0;
  }
  return attachAndStart(api, c.id, {
    tty: c.tty,
    stdin: c.stdin,
    stdout: c.attach.out,
    stderr: c.attach.err,
    sigProxy: flags["sig-proxy"] !== false,
    keys: c.tty && c.stdin ? keys : undefined,
    autoRemove: c.autoRemove,
    start: true,
  });
}

export default run;
