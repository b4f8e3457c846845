/**
 * Client mode: commit, diff, export, update, history, stats and the prune verbs through the daemon's
 * Engine API, printed as the daemonless CLI prints them.
 */
import { totalmem } from "node:os";
import type { RunInput } from "../_command.ts";
import { filtersParam, type ApiClient } from "../../client/index.ts";
import { EngineError } from "../../lib/errors.ts";
import { bytesSize, humanSize } from "../../lib/human.ts";
import { confirm, systemPruneWarning } from "../_confirm.ts";
import { writeArchive } from "../_archive-out.ts";
import { printHistory } from "../image/history.ts";
import { printStats } from "../stats.ts";
import { eachRef, splitTag } from "./simple.ts";

const enc = encodeURIComponent;

export async function commit(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  const [ctr, ref] = positionals as [string, string | undefined];
  const { repo, tag } = ref ? splitTag(ref) : { repo: "", tag: "" };
  const r = await api.json<{ Id: string }>("POST", "/commit", {
    query: {
      container: ctr,
      repo: repo || undefined,
      tag: tag || undefined,
      comment: typeof flags.message === "string" ? flags.message : undefined,
      author: typeof flags.author === "string" ? flags.author : undefined,
      pause: flags.pause !== false ? "1" : "0",
      changes: (flags.change as string[]) ?? [],
    },
    json: {},
  });
  ctx.out(`${r.Id}\n`);
}

export async function diff(input: RunInput, api: ApiClient) {
  const r = await api.json<{ Path: string; Kind: number }[] | null>("GET", `/containers/${enc(input.positionals[0]!)}/changes`);
  const kind = (k: number) => (k === 0 ? "C" : k === 1 ? "A" : "D");
  input.ctx.out((r ?? []).map((c) => `${kind(c.Kind)} ${c.Path}\n`).join(""));
}

export async function exportContainer(input: RunInput, api: ApiClient) {
  const out = input.flags.output ? String(input.flags.output) : undefined;
  if (!out && process.stdout.isTTY) await writeArchive(undefined, "export container", async () => {});
  await writeArchive(out, "export container", async (sink) => {
    const { body } = await api.stream("GET", `/containers/${enc(input.positionals[0]!)}/export`);
    for await (const chunk of body) await sink(chunk);
  });
}

export async function update(input: RunInput, api: ApiClient) {
  const { flags } = input;
  const given = ["cpus", "cpu-shares", "memory", "memory-swap", "memory-reservation", "pids-limit", "cpuset-cpus", "cpuset-mems", "restart"].some(
    (k) => typeof flags[k] === "string",
  );
  if (!given) throw new EngineError("invalid_argument", "you must provide one or more flags when using this command");
  const { parseUpdateFlags } = await import("../_container-opts.ts");
  const body = parseUpdateFlags(flags) ?? {};
  return eachRef(input, async (ref) => {
    const r = await api.json<{ Warnings?: string[] | null }>("POST", `/containers/${enc(ref)}/update`, { json: body });
    for (const w of r?.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
    return ref;
  });
}

export async function history(input: RunInput, api: ApiClient) {
  const rows = await api.json<{ Id: string; Created: number; CreatedBy: string; Size: number; Comment: string }[]>(
    "GET",
    `/images/${input.positionals[0]!}/history`,
  );
  printHistory(
    input.ctx,
    input.flags,
    (rows ?? []).map((r) => ({
      id: r.Id,
      created: r.Created ? new Date(r.Created * 1000).toISOString() : "",
      createdBy: r.CreatedBy ?? "",
      size: r.Size ?? 0,
      comment: r.Comment ?? "",
    })),
  );
}

async function reclaimed(input: RunInput, title: string, deleted: string[] | null | undefined, bytes: number | undefined) {
  if (deleted?.length) input.ctx.out(`${title}:\n${deleted.join("\n")}\n\n`);
  if (bytes !== undefined) input.ctx.out(`Total reclaimed space: ${humanSize(bytes, 4)}\n`);
}

export async function containerPrune(input: RunInput, api: ApiClient) {
  if (!(await confirm(!!input.flags.force, "This will remove all stopped containers."))) return;
  const r = await api.json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/containers/prune", {
    query: { filters: filtersParam(input.flags.filter as string[]) },
  });
  await reclaimed(input, "Deleted Containers", r.ContainersDeleted, r.SpaceReclaimed ?? 0);
}

export async function imagePrune(input: RunInput, api: ApiClient) {
  const all = !!input.flags.all;
  if (!(await confirm(!!input.flags.force, `This will remove all ${all ? "images without at least one container associated to them" : "dangling images"}.`)))
    return;
  const filters = [...((input.flags.filter as string[]) ?? []), ...(all ? ["dangling=false"] : [])];
  const r = await api.json<{ ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed: number }>("POST", "/images/prune", {
    query: { filters: filtersParam(filters) },
  });
  const lines = (r.ImagesDeleted ?? []).map((x) => (x.Untagged ? `untagged: ${x.Untagged}` : `deleted: ${x.Deleted}`));
  await reclaimed(input, "Deleted Images", lines, r.SpaceReclaimed ?? 0);
}

export async function volumePrune(input: RunInput, api: ApiClient) {
  const all = !!input.flags.all;
  if (!(await confirm(!!input.flags.force, `This will remove ${all ? "all local volumes" : "anonymous local volumes"} not used by at least one container.`)))
    return;
  const filters = [...((input.flags.filter as string[]) ?? []), ...(all ? ["all=true"] : [])];
  const r = await api.json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/volumes/prune", {
    query: { filters: filtersParam(filters) },
  });
  await reclaimed(input, "Deleted Volumes", r.VolumesDeleted, r.SpaceReclaimed ?? 0);
}

export async function networkPrune(input: RunInput, api: ApiClient) {
  if (!(await confirm(!!input.flags.force, "This will remove all custom networks not used by at least one container."))) return;
  const r = await api.json<{ NetworksDeleted: string[] | null }>("POST", "/networks/prune", {
    query: { filters: filtersParam(input.flags.filter as string[]) },
  });
  await reclaimed(input, "Deleted Networks", r.NetworksDeleted, undefined);
}

interface StatsJson {
  name?: string;
  id?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
  pids_stats?: { current?: number };
}

/** docker's CLI arithmetic (cli/command/container/stats_helpers.go) for one stats document */
function statsRow(id: string, name: string, s: StatsJson, noTrunc: boolean, given?: string): Record<string, string> {
  const cpuDelta = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats?.online_cpus ?? 1;
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const st = s.memory_stats?.stats ?? {};
  const mem = Math.max(0, (s.memory_stats?.usage ?? 0) - (st.inactive_file ?? st.total_inactive_file ?? 0));
  let limit = s.memory_stats?.limit ?? 0;
  if (!limit || limit > 2 ** 60) limit = totalmem();
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  let rd = 0;
  let wr = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    if (e.op.toLowerCase() === "read") rd += e.value;
    else if (e.op.toLowerCase() === "write") wr += e.value;
  }
  const short = noTrunc ? id : id.slice(0, 12);
  return {
    // docker's CLI: the container as named on the command line, else the 12-digit ID
    Container: given ?? id.slice(0, 12),
    ID: short,
    Name: name.replace(/^\//, ""),
    CPUPerc: `${cpu.toFixed(2)}%`,
    MemUsage: `${bytesSize(mem)} / ${bytesSize(limit)}`,
    MemPerc: `${((mem / limit) * 100).toFixed(2)}%`,
    NetIO: `${humanSize(rx)} / ${humanSize(tx)}`,
    BlockIO: `${humanSize(rd)} / ${humanSize(wr)}`,
    PIDs: String(s.pids_stats?.current ?? 0),
  };
}

export async function stats(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  const noTrunc = !!flags["no-trunc"];
  const targets = async (): Promise<{ id: string; name: string; given?: string }[]> => {
    if (positionals.length) {
      const out: { id: string; name: string; given?: string }[] = [];
      for (const ref of positionals) {
        const c = await api.json<{ Id: string; Name: string }>("GET", `/containers/${enc(ref)}/json`);
        out.push({ id: c.Id, name: c.Name, given: ref });
      }
      return out;
    }
    const list = await api.json<{ Id: string; Names: string[] }[]>("GET", "/containers/json", { query: { all: !!flags.all } });
    return (list ?? []).map((c) => ({ id: c.Id, name: c.Names?.[0] ?? "" }));
  };
  const sample = async () => {
    const ts = await targets();
    return Promise.all(
      ts.map(async (t) => {
        try {
          const s = await api.json<StatsJson>("GET", `/containers/${enc(t.id)}/stats`, { query: { stream: "false" } });
          return statsRow(t.id, t.name, s, noTrunc, t.given);
        } catch {
          return statsRow(t.id, t.name, {}, noTrunc, t.given); // the container went away between listing and reading: a row of zeros, as docker's
        }
      }),
    );
  };
  if (flags["no-stream"]) return void printStats(ctx, flags, await sample());
  // streaming redraws the screen (docker's CLI writes the same escape codes to a pipe)
  for (;;) {
    const rows = await sample();
    process.stdout.write("\x1b[2J\x1b[H");
    printStats(ctx, flags, rows);
    await Bun.sleep(500);
  }
}

export async function importImage(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  const [src, ref] = positionals as [string, string | undefined];
  const { repo, tag } = ref ? splitTag(ref) : { repo: "", tag: "" };
  const query = {
    fromSrc: /^https?:\/\//.test(src) ? src : "-",
    repo: repo || undefined,
    tag: tag || undefined,
    message: typeof flags.message === "string" ? flags.message : undefined,
    changes: (flags.change as string[]) ?? [],
    platform: typeof flags.platform === "string" ? flags.platform : undefined,
  };
  let body: AsyncIterable<Uint8Array> | undefined;
  if (src === "-") body = process.stdin as unknown as AsyncIterable<Uint8Array>;
  else if (query.fromSrc === "-") {
    const { existsSync, statSync } = await import("node:fs");
    if (!existsSync(src)) throw new EngineError("not_found", `open ${src}: no such file or directory`);
    if (statSync(src).isDirectory()) throw new EngineError("invalid_argument", `import ${src}: is a directory, not a tarball`);
    body = Bun.file(src).stream() as unknown as AsyncIterable<Uint8Array>;
  }
  const { body: out } = await api.stream("POST", "/images/create", { query, ...(body ? { body, headers: { "Content-Type": "application/x-tar" } } : {}) });
  const { showProgress } = await import("./_progress.ts");
  await showProgress(out, { quiet: !!flags.quiet, write: ctx.out, tty: false });
}

export async function builderPrune(input: RunInput, api: ApiClient) {
  if (!(await confirm(!!input.flags.force, "This will remove all dangling build cache."))) return;
  const r = await api.json<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/build/prune", {
    query: { all: !!input.flags.all, filters: filtersParam(input.flags.filter as string[]) },
  });
  await reclaimed(input, "Deleted build cache objects", r.CachesDeleted, r.SpaceReclaimed ?? 0);
}

/** docker's `system prune`: the prunes one after the other, their lists, then the total */
export async function systemPrune(input: RunInput, api: ApiClient) {
  const { flags, ctx } = input;
  if (!(await confirm(!!flags.force, systemPruneWarning({ volumes: !!flags.volumes, all: !!flags.all })))) return;
  const filters = filtersParam(flags.filter as string[]);
  let total = 0;
  const c = await api.json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/containers/prune", { query: { filters } });
  if (c.ContainersDeleted?.length) ctx.out(`Deleted Containers:\n${c.ContainersDeleted.join("\n")}\n\n`);
  total += c.SpaceReclaimed ?? 0;
  const n = await api.json<{ NetworksDeleted: string[] | null }>("POST", "/networks/prune", { query: { filters } });
  if (n.NetworksDeleted?.length) ctx.out(`Deleted Networks:\n${n.NetworksDeleted.join("\n")}\n\n`);
  if (flags.volumes) {
    const v = await api.json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/volumes/prune", { query: { filters } });
    if (v.VolumesDeleted?.length) ctx.out(`Deleted Volumes:\n${v.VolumesDeleted.join("\n")}\n\n`);
    total += v.SpaceReclaimed ?? 0;
  }
  const imgFilters = filtersParam([...((flags.filter as string[]) ?? []), ...(flags.all ? ["dangling=false"] : [])]);
  const i = await api.json<{ ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed: number }>("POST", "/images/prune", {
    query: { filters: imgFilters },
  });
  const lines = (i.ImagesDeleted ?? []).map((x) => (x.Untagged ? `untagged: ${x.Untagged}` : `deleted: ${x.Deleted}`));
  if (lines.length) ctx.out(`Deleted Images:\n${lines.join("\n")}\n\n`);
  total += i.SpaceReclaimed ?? 0;
  const b = await api.json<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>("POST", "/build/prune", { query: { all: !!flags.all } });
  if (b.CachesDeleted?.length) ctx.out(`Deleted build cache objects:\n${b.CachesDeleted.join("\n")}\n\n`);
  total += b.SpaceReclaimed ?? 0;
  ctx.out(`Total reclaimed space: ${humanSize(total, 4)}\n`);
}
