/**
 * Client mode: the one-call verbs (stop, restart, kill, rm, pause, unpause, wait, rename, top, port, rmi,
 * tag), each docker's CLI's request and output. Several containers: each is tried, each failure printed
 * as the daemon said it, exit 1 if any failed (docker's multi-container loop).
 */
import type { RunInput } from "../_command.ts";
import { DaemonError, type ApiClient } from "../../client/index.ts";
import { renderTopTable } from "../top.ts";

const enc = encodeURIComponent;

/** docker's loop over several containers: print each result, report each daemon error, exit 1 if any failed */
export async function eachRef(
  input: RunInput,
  fn: (ref: string) => Promise<string | void>,
  o: { forgive?: (e: DaemonError) => boolean } = {},
): Promise<number> {
  let failed = false;
  for (const ref of input.positionals) {
    try {
      const out = await fn(ref);
      if (out !== undefined) input.ctx.out(out + "\n");
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      process.stderr.write(`${e.message}\n`);
      if (!o.forgive?.(e)) failed = true;
    }
  }
  return failed ? 1 : 0;
}

export function stop(input: RunInput, api: ApiClient) {
  const t = input.flags.timeout === undefined ? undefined : String(input.flags.timeout);
  const signal = typeof input.flags.signal === "string" ? input.flags.signal : undefined;
  return eachRef(input, async (ref) => {
    await api.ok("POST", `/containers/${enc(ref)}/stop`, { query: { t, signal } });
    return ref;
  });
}

export function restart(input: RunInput, api: ApiClient) {
  const t = input.flags.timeout === undefined ? undefined : String(input.flags.timeout);
  const signal = typeof input.flags.signal === "string" ? input.flags.signal : undefined;
  return eachRef(input, async (ref) => {
    await api.ok("POST", `/containers/${enc(ref)}/restart`, { query: { t, signal } });
    return ref;
  });
}

export function kill(input: RunInput, api: ApiClient) {
  const signal = typeof input.flags.signal === "string" && input.flags.signal !== "" ? input.flags.signal : undefined;
  return eachRef(input, async (ref) => {
    await api.ok("POST", `/containers/${enc(ref)}/kill`, { query: { signal } });
    return ref;
  });
}

export function rm(input: RunInput, api: ApiClient) {
  const f = input.flags;
  return eachRef(
    input,
    async (ref) => {
      await api.ok("DELETE", `/containers/${enc(ref)}`, { query: { force: !!f.force, v: !!f.volumes, link: !!f.link } });
      return ref;
    },
    // docker: with -f a container that is not there is reported, but is no failure
    { forgive: (e) => !!f.force && e.status === 404 },
  );
}

export function pause(input: RunInput, api: ApiClient) {
  return eachRef(input, async (ref) => {
    await api.ok("POST", `/containers/${enc(ref)}/pause`);
    return ref;
  });
}

export function unpause(input: RunInput, api: ApiClient) {
  return eachRef(input, async (ref) => {
    await api.ok("POST", `/containers/${enc(ref)}/unpause`);
    return ref;
  });
}

export function wait(input: RunInput, api: ApiClient) {
  return eachRef(input, async (ref) => {
    const r = await api.json<{ StatusCode: number; Error?: { Message?: string } | null }>("POST", `/containers/${enc(ref)}/wait`);
    if (r?.Error?.Message) process.stderr.write(`${r.Error.Message}\n`);
    return String(r?.StatusCode ?? 0);
  });
}

export async function rename(input: RunInput, api: ApiClient) {
  await api.ok("POST", `/containers/${enc(input.positionals[0]!)}/rename`, { query: { name: input.positionals[1]! } });
}

export async function top(input: RunInput, api: ApiClient) {
  const psArgs = input.rest.join(" ");
  const r = await api.json<{ Titles: string[]; Processes: string[][] }>("GET", `/containers/${enc(input.positionals[0]!)}/top`, {
    query: { ps_args: psArgs || undefined },
  });
  input.ctx.out(renderTopTable(r.Titles ?? [], r.Processes ?? []));
}

/** docker's `port`: from the container's inspect, `80/tcp -> 0.0.0.0:8080` (or just the binding for one port) */
export async function port(input: RunInput, api: ApiClient) {
  const c = await api.json<{ NetworkSettings?: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> } }>(
    "GET",
    `/containers/${enc(input.positionals[0]!)}/json`,
  );
  const ports = c.NetworkSettings?.Ports ?? {};
  const addr = (b: { HostIp: string; HostPort: string }) => `${b.HostIp.includes(":") ? `[${b.HostIp}]` : b.HostIp || "0.0.0.0"}:${b.HostPort}`;
  const want = input.positionals[1];
  if (want) {
    const [p, proto = "tcp"] = want.split("/");
    const bs = ports[`${p}/${proto}`];
    if (!bs?.length) {
      const { EngineError } = await import("../../lib/errors.ts");
      throw new EngineError("not_found", `No public port '${want}' published for ${input.positionals[0]}`);
    }
    input.ctx.out(bs.map((b) => addr(b) + "\n").join(""));
    return;
  }
  const keys = Object.keys(ports).sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b));
  const lines: string[] = [];
  for (const k of keys) for (const b of ports[k] ?? []) lines.push(`${k} -> ${addr(b)}`);
  input.ctx.out(lines.map((l) => l + "\n").join(""));
}

export async function rmi(input: RunInput, api: ApiClient) {
  const f = input.flags;
  return eachRef(
    input,
    async (ref) => {
      const r = await api.json<{ Untagged?: string; Deleted?: string }[]>("DELETE", `/images/${ref}`, {
        query: { force: !!f.force, noprune: !!f["no-prune"] },
      });
      const lines = (r ?? []).map((x) => (x.Untagged ? `Untagged: ${x.Untagged}` : `Deleted: ${x.Deleted}`));
      return lines.length ? lines.join("\n") : undefined;
    },
    { forgive: (e) => !!f.force && e.status === 404 },
  );
}

/** `repo[:tag]` → (repo, tag); a colon before the last slash is a registry's port */
export function splitTag(ref: string): { repo: string; tag: string } {
  const at = ref.indexOf("@");
  const base = at >= 0 ? ref.slice(0, at) : ref;
  const i = base.lastIndexOf(":");
  if (i > base.lastIndexOf("/")) return { repo: base.slice(0, i), tag: base.slice(i + 1) };
  return { repo: base, tag: "" };
}

export async function tag(input: RunInput, api: ApiClient) {
  const { repo, tag } = splitTag(input.positionals[1]!);
  await api.ok("POST", `/images/${input.positionals[0]!}/tag`, { query: { repo, tag: tag || "latest" } });
}
