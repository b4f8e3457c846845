/**
 * `berth context create|ls|use|inspect|rm|show|update`: named daemon endpoints, as docker's contexts
 * (src/client/contexts.ts stores them). The built-in "default" context is DOCKER_HOST/BERTH_HOST when
 * set, else berth without a daemon.
 */
import { readFileSync } from "node:fs";
import { defineBerthCommand, type BerthCommand } from "./_command.ts";
import type { Context } from "./_context.ts";
import { EngineError, UsageError } from "../lib/errors.ts";
import { renderDockerTable } from "./_format/table.ts";
import { compileTemplate, goJson } from "./_format/template.ts";

const def = (c: BerthCommand) => async () => ({ default: defineBerthCommand(c) });

async function store(ctx: Context) {
  const m = await import("../client/index.ts");
  return { m, s: new m.ContextStore(ctx.env) };
}

/** the context in effect for this invocation (the one `ls` stars and `show` prints) */
async function current(ctx: Context): Promise<string> {
  const { currentContextName } = await import("../client/index.ts");
  return currentContextName({ hosts: ctx.hostSelection?.hosts ?? [], context: ctx.hostSelection?.context, env: ctx.env });
}

/** docker's `--docker "host=…,ca=…,cert=…,key=…,skip-tls-verify=true"` */
function parseDockerOpt(spec: string): { host?: string; ca?: string; cert?: string; key?: string; skip: boolean } {
  const out: { host?: string; ca?: string; cert?: string; key?: string; skip: boolean } = { skip: false };
  for (const part of spec.split(",").filter(Boolean)) {
    const i = part.indexOf("=");
    if (i < 0) throw new UsageError(`invalid argument "${spec}" for "--docker" flag: expected key=value, got ${JSON.stringify(part)}`);
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    if (k === "host") out.host = v;
    else if (k === "ca" || k === "cert" || k === "key") out[k] = v;
    else if (k === "skip-tls-verify") out.skip = v === "true" || v === "1";
    else if (k === "from") throw new UsageError(`--docker from= is not supported: use --from`);
    else throw new UsageError(`unrecognized config key: ${k}`);
  }
  return out;
}

function readPem(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new EngineError("invalid_argument", `unable to read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export default defineBerthCommand({
  meta: { name: "context", description: "Manage contexts", usage: "COMMAND" },
  args: {},
  subCommands: {
    create: def({
      meta: { name: "create", description: "Create a context", usage: "[OPTIONS] CONTEXT", minArgs: 1, maxArgs: 1 },
      args: {
        description: { type: "string", description: "Description of the context" },
        docker: { type: "string", description: 'set the docker endpoint (e.g. "host=unix:///run/berth/berth.sock,skip-tls-verify=true")' },
        from: { type: "string", description: "create context from a named context" },
      },
      async run({ flags, positionals, ctx }) {
        const { m, s } = await store(ctx);
        const name = positionals[0]!;
        m.checkContextName(name);
        let host: string | undefined;
        let skip = false;
        let tls: { ca?: string; cert?: string; key?: string } = {};
        let description = typeof flags.description === "string" ? flags.description : undefined;
        if (typeof flags.from === "string") {
          const from = s.get(flags.from);
          host = from.Endpoints.docker?.Host;
          skip = !!from.Endpoints.docker?.SkipTLSVerify;
          const t = s.tls(flags.from);
          if (t) tls = { ca: t.ca, cert: t.cert, key: t.key };
          description ??= from.Metadata.Description;
        }
        if (typeof flags.docker === "string") {
          const d = parseDockerOpt(flags.docker);
          host = d.host ?? host;
          skip = d.skip;
          tls = { ca: readPem(d.ca), cert: readPem(d.cert), key: readPem(d.key) };
        }
        if (!host && typeof flags.from !== "string") host = `unix://${m.DEFAULT_SOCKET}`;
        if (host) m.parseHost(host);
        s.create(
          { Name: name, Metadata: description ? { Description: description } : {}, Endpoints: host ? { docker: { Host: host, SkipTLSVerify: skip } } : {} },
          tls,
        );
        ctx.out(`${name}\n`);
        process.stderr.write(`Successfully created context "${name}"\n`);
      },
    }),
    ls: def({
      meta: { name: "ls", description: "List contexts", usage: "[OPTIONS]", aliases: ["berth context ls", "berth context list"], maxArgs: 0 },
      args: {
        format: { type: "string", description: "Format output using a custom template: 'table', 'json', or a Go template" },
        quiet: { type: "boolean", alias: "q", description: "Only show context names" },
      },
      async run({ flags, ctx }) {
        const { s } = await store(ctx);
        const cur = await current(ctx);
        const all = [s.defaultContext(), ...s.list()];
        if (flags.quiet) return void ctx.out(all.map((c) => c.Name + "\n").join(""));
        const rows = all.map((c) => ({
          Name: c.Name,
          Description: c.Metadata.Description ?? "",
          DockerEndpoint: c.Endpoints.docker?.Host ?? "",
          Current: c.Name === cur,
          Error: "",
          ContextType: "moby",
        }));
        const f = typeof flags.format === "string" ? flags.format : "";
        if (f === "json") return void ctx.out(rows.map((r) => goJson(r) + "\n").join(""));
        if (f !== "" && f !== "table") {
          const render = compileTemplate(f.replace(/^table /, ""));
          return void ctx.out(rows.map((r) => render(r) + "\n").join(""));
        }
        ctx.out(
          renderDockerTable(
            ["NAME", "DESCRIPTION", "DOCKER ENDPOINT", "ERROR"],
            rows.map((r) => [r.Current ? `${r.Name} *` : r.Name, r.Description, r.DockerEndpoint, r.Error]),
          ),
        );
      },
    }),
    use: def({
      meta: { name: "use", description: "Set the current berth context", usage: "CONTEXT", minArgs: 1, maxArgs: 1 },
      args: {},
      async run({ positionals, ctx }) {
        const { m, s } = await store(ctx);
        const name = positionals[0]!;
        s.setCurrent(name);
        ctx.out(`${name}\n`);
        process.stderr.write(`Current context is now "${name}"\n`);
        if (name !== "default" && m.envHost(ctx.env))
          process.stderr.write(
            `Warning: DOCKER_HOST environment variable overrides the active context. To use "${name}", either set the global --context flag, or unset DOCKER_HOST environment variable.\n`,
          );
      },
    }),
    show: def({
      meta: { name: "show", description: "Print the name of the current context", usage: "", maxArgs: 0 },
      args: {},
      async run({ ctx }) {
        ctx.out(`${await current(ctx)}\n`);
      },
    }),
    inspect: def({
      meta: { name: "inspect", description: "Display detailed information on one or more contexts", usage: "[OPTIONS] [CONTEXT] [CONTEXT...]" },
      args: { format: { type: "string", alias: "f", description: "Format output using a custom template" } },
      async run({ flags, positionals, ctx }) {
        const { s } = await store(ctx);
        const names = positionals.length ? positionals : [await current(ctx)];
        const out: unknown[] = [];
        let failed = false;
        for (const n of names) {
          try {
            out.push(s.inspect(n));
          } catch (e) {
            if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
            process.stderr.write(`context "${n}" does not exist\n`);
            failed = true;
          }
        }
        const f = typeof flags.format === "string" ? flags.format : "";
        if (f === "json") ctx.out(goJson(out) + "\n");
        else if (f !== "") {
          const render = compileTemplate(f, { raw: true });
          for (const o of out) ctx.out(render(o) + "\n");
        } else ctx.out(JSON.stringify(out, null, 4) + "\n");
        return failed ? 1 : 0;
      },
    }),
    rm: def({
      meta: {
        name: "rm",
        description: "Remove one or more contexts",
        usage: "CONTEXT [CONTEXT...]",
        aliases: ["berth context rm", "berth context remove"],
        minArgs: 1,
      },
      args: { force: { type: "boolean", alias: "f", description: "Force the removal of a context in use" } },
      async run({ flags, positionals, ctx }) {
        const { s } = await store(ctx);
        const inUse = s.current();
        let failed = false;
        for (const n of positionals) {
          try {
            if (n === inUse && n !== "default") {
              if (!flags.force) throw new EngineError("failed_precondition", `context "${n}" is in use, set -f flag to force remove`);
              s.setCurrent("default");
            }
            s.remove(n);
            ctx.out(`${n}\n`);
          } catch (e) {
            if (!(e instanceof EngineError)) throw e;
            process.stderr.write(`${e.message}\n`);
            failed = true;
          }
        }
        return failed ? 1 : 0;
      },
    }),
    update: def({
      meta: { name: "update", description: "Update a context", usage: "[OPTIONS] CONTEXT", minArgs: 1, maxArgs: 1 },
      args: {
        description: { type: "string", description: "Description of the context" },
        docker: { type: "string", description: "set the docker endpoint" },
      },
      async run({ flags, positionals, ctx }) {
        const { m, s } = await store(ctx);
        const name = positionals[0]!;
        m.checkContextName(name);
        const meta = s.get(name);
        if (typeof flags.description === "string") meta.Metadata = { ...meta.Metadata, Description: flags.description };
        let tls: { ca?: string; cert?: string; key?: string } = {};
        if (typeof flags.docker === "string") {
          const d = parseDockerOpt(flags.docker);
          const host = d.host ?? meta.Endpoints.docker?.Host ?? `unix://${m.DEFAULT_SOCKET}`;
          m.parseHost(host);
          meta.Endpoints = { docker: { Host: host, SkipTLSVerify: d.skip } };
          tls = { ca: readPem(d.ca), cert: readPem(d.cert), key: readPem(d.key) };
        }
        s.write(meta, tls);
        ctx.out(`${name}\n`);
        process.stderr.write(`Successfully updated context "${name}"\n`);
      },
    }),
  },
});
