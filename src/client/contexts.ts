/**
 * Named endpoints, as docker's contexts: each context is docker's meta.json
 * (`{"Name", "Metadata": {"Description"}, "Endpoints": {"docker": {"Host", "SkipTLSVerify"}}}`) under
 * <config>/contexts/meta/<sha256 of the name>/, its TLS files under <config>/contexts/tls/<sha256>/docker/,
 * and the current one in <config>/config.json's `currentContext`. <config> is $BERTH_CONFIG, else
 * ~/.berth. Every file is written atomically (temp, fsync, rename). The "default" context is built in:
 * DOCKER_HOST/BERTH_HOST when set, else no daemon at all (berth's own store).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { EngineError } from "../lib/errors.ts";
import { atomicWriteFile, atomicWriteJson } from "../lib/atomic-write.ts";
import type { TlsSettings } from "./dial.ts";

type Env = Readonly<Record<string, string | undefined>>;

export interface ContextMeta {
  Name: string;
  Metadata: { Description?: string };
  Endpoints: { docker?: { Host: string; SkipTLSVerify: boolean } };
}

export interface ContextInspect extends ContextMeta {
  TLSMaterial: Record<string, string[]>;
  Storage: { MetadataPath: string; TLSPath: string };
}

export function configDir(env: Env): string {
  return env.BERTH_CONFIG || join(env.HOME || homedir(), ".berth");
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;

export function checkContextName(name: string): void {
  if (name === "default") throw new EngineError("invalid_argument", `"default" is a reserved context name`);
  if (!NAME.test(name))
    throw new EngineError("invalid_argument", `context name ${JSON.stringify(name)} is invalid, names are validated against regexp "${NAME.source}"`);
}

const idOf = (name: string) => createHash("sha256").update(name).digest("hex");

export class ContextStore {
  readonly dir: string;
  constructor(readonly env: Env) {
    this.dir = configDir(env);
  }

  private metaDir(name: string) {
    return join(this.dir, "contexts", "meta", idOf(name));
  }
  private tlsDir(name: string) {
    return join(this.dir, "contexts", "tls", idOf(name));
  }

  /** the stored contexts, by name */
  list(): ContextMeta[] {
    const root = join(this.dir, "contexts", "meta");
    let ids: string[];
    try {
      ids = readdirSync(root);
    } catch {
      return []; // no context stored yet
    }
    const out: ContextMeta[] = [];
    for (const id of ids) {
      try {
        out.push(JSON.parse(readFileSync(join(root, id, "meta.json"), "utf8")) as ContextMeta);
      } catch {} // a half-removed context directory (rm racing ls): not a context
    }
    return out.sort((a, b) => a.Name.localeCompare(b.Name));
  }

  exists(name: string): boolean {
    return name === "default" || existsSync(join(this.metaDir(name), "meta.json"));
  }

  get(name: string): ContextMeta {
    if (name === "default") return this.defaultContext();
    try {
      return JSON.parse(readFileSync(join(this.metaDir(name), "meta.json"), "utf8")) as ContextMeta;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new EngineError("not_found", `context "${name}" does not exist`);
      throw new EngineError("internal", `read context "${name}": ${(e as Error).message}`, { cause: e });
    }
  }

  /** docker's inspect shape: the meta, the TLS files it has, where it is stored */
  inspect(name: string): ContextInspect {
    const meta = this.get(name);
    if (name === "default") return { ...meta, TLSMaterial: {}, Storage: { MetadataPath: "<IN MEMORY>", TLSPath: "<IN MEMORY>" } };
    const tlsDir = this.tlsDir(name);
    const files = (() => {
      try {
        return readdirSync(join(tlsDir, "docker"));
      } catch {
        return []; // no TLS material for this context
      }
    })();
    return { ...meta, TLSMaterial: files.length ? { docker: files.sort() } : {}, Storage: { MetadataPath: this.metaDir(name), TLSPath: tlsDir } };
  }

  /** the TLS settings of a stored context's docker endpoint, if it has any */
  tls(name: string): TlsSettings | undefined {
    if (name === "default") return undefined;
    const meta = this.get(name);
    const dir = join(this.tlsDir(name), "docker");
    const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : undefined);
    const ca = read("ca.pem");
    const cert = read("cert.pem");
    const key = read("key.pem");
    const skip = !!meta.Endpoints.docker?.SkipTLSVerify;
    if (!ca && !cert && !key && !skip) return undefined;
    return { ca, cert, key, verify: !skip };
  }

  create(meta: ContextMeta, tlsFiles: { ca?: string; cert?: string; key?: string } = {}): void {
    checkContextName(meta.Name);
    if (this.exists(meta.Name)) throw new EngineError("already_exists", `context "${meta.Name}" already exists`);
    this.write(meta, tlsFiles);
  }

  write(meta: ContextMeta, tlsFiles: { ca?: string; cert?: string; key?: string } = {}): void {
    const dir = this.metaDir(meta.Name);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const files = Object.entries(tlsFiles).filter(([, v]) => v !== undefined) as [string, string][];
    if (files.length) {
      const t = join(this.tlsDir(meta.Name), "docker");
      mkdirSync(t, { recursive: true, mode: 0o700 });
      for (const [k, text] of files) atomicWriteFile(join(t, `${k}.pem`), text, k === "key" ? 0o600 : 0o644);
    }
    atomicWriteJson(join(dir, "meta.json"), meta);
  }

  remove(name: string): void {
    if (name === "default") throw new EngineError("invalid_argument", `default: context "default" cannot be removed`);
    if (!this.exists(name)) throw new EngineError("not_found", `context "${name}" does not exist`);
    rmSync(this.metaDir(name), { recursive: true, force: true });
    rmSync(this.tlsDir(name), { recursive: true, force: true });
  }

  private configPath() {
    return join(this.dir, "config.json");
  }

  private readConfig(): Record<string, unknown> {
    try {
      return JSON.parse(readFileSync(this.configPath(), "utf8")) as Record<string, unknown>;
    } catch {
      return {}; // no config yet (or unreadable: treated as empty, as docker's CLI does after a warning)
    }
  }

  /** the context `use` chose ("default" when none) */
  current(): string {
    const c = this.readConfig().currentContext;
    return typeof c === "string" && c !== "" ? c : "default";
  }

  setCurrent(name: string): void {
    if (!this.exists(name)) throw new EngineError("not_found", `context "${name}" does not exist`);
    const cfg = this.readConfig();
    if (name === "default") delete cfg.currentContext;
    else cfg.currentContext = name;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    atomicWriteJson(this.configPath(), cfg, 0o600);
  }

  /** the built-in context: the environment's host, else daemonless */
  defaultContext(): ContextMeta {
    const host = envHost(this.env);
    return {
      Name: "default",
      Metadata: { Description: host ? "Current DOCKER_HOST based configuration" : "No daemon: this machine's berth store" },
      Endpoints: host ? { docker: { Host: host, SkipTLSVerify: false } } : {},
    };
  }
}

/** BERTH_HOST, else DOCKER_HOST (berth's own variable wins: it is the more specific) */
export function envHost(env: Env): string | undefined {
  return env.BERTH_HOST || env.DOCKER_HOST || undefined;
}
