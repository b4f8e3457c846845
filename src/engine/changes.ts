/**
 * `--change` / `-c` for import and commit: a Dockerfile instruction applied to an image config
 * (docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR). Pure.
 */
import { EngineError } from "../lib/errors.ts";
import type { ContainerConfig } from "../oci/index.ts";

const ALLOWED = new Set(["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"]);

function jsonOrShell(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith("[")) {
    try {
      const v = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
    } catch {} // not JSON: the shell form, as docker takes it
  }
  return ["/bin/sh", "-c", t];
}

function unquote(s: string): string {
  if (s.length >= 2 && ((s[0] === '"' && s.at(-1) === '"') || (s[0] === "'" && s.at(-1) === "'"))) return s.slice(1, -1);
  return s;
}

/** split `a=1 b="two words"` into pairs; the legacy `KEY value with spaces` form when no '=' */
function keyValues(rest: string, what: string): [string, string][] {
  const t = rest.trim();
  const words = t.match(/(?:[^\s"']+|"(?:\\.|[^"])*"|'[^']*')+/g) ?? [];
  if (words.length && !words[0]!.includes("=")) {
    const sp = t.search(/\s/);
    if (sp < 0) throw new EngineError("invalid_argument", `${what} must have two arguments`);
    return [[words[0]!, t.slice(sp).trim()]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) throw new EngineError("invalid_argument", `${what} names can not be blank`);
    return [w.slice(0, eq), unquote(w.slice(eq + 1))];
  });
}

export function applyChanges(base: ContainerConfig, changes: string[]): ContainerConfig {
  const cfg: ContainerConfig = structuredClone(base);
  for (const change of changes) {
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(change);
    const instr = m?.[1]?.toUpperCase() ?? "";
    const rest = m?.[2] ?? "";
    if (!ALLOWED.has(instr)) throw new EngineError("invalid_argument", `${m?.[1] ?? change} is not a valid change command`);
    switch (instr) {
      case "CMD":
        cfg.Cmd = jsonOrShell(rest);
        break;
      case "ENTRYPOINT":
        cfg.Entrypoint = jsonOrShell(rest);
        break;
      case "ENV": {
        const env = [...(cfg.Env ?? [])];
        for (const [k, v] of keyValues(rest, "ENV")) {
          const i = env.findIndex((e) => e.split("=", 1)[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        cfg.Env = env;
        break;
      }
      case "LABEL":
        cfg.Labels = { ...cfg.Labels, ...Object.fromEntries(keyValues(rest, "LABEL")) };
        break;
      case "EXPOSE": {
        const ports = { ...cfg.ExposedPorts };
        for (const p of rest.trim().split(/\s+/).filter(Boolean)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw new EngineError("invalid_argument", `invalid containerPort: ${p}`);
          ports[p.includes("/") ? p.toLowerCase() : `${p}/tcp`] = {};
        }
        cfg.ExposedPorts = ports;
        break;
      }
      case "VOLUME": {
        const vols = { ...cfg.Volumes };
        const t = rest.trim();
        const list = t.startsWith("[") ? (JSON.parse(t) as string[]) : t.split(/\s+/).filter(Boolean);
        for (const v of list) vols[v] = {};
        cfg.Volumes = vols;
        break;
      }
      case "USER":
        cfg.User = rest.trim();
        break;
      case "WORKDIR":
        cfg.WorkingDir = rest.trim();
        break;
      case "STOPSIGNAL":
        cfg.StopSignal = rest.trim();
        break;
      case "ONBUILD":
        cfg.OnBuild = [...(cfg.OnBuild ?? []), rest.trim()];
        break;
    }
  }
  return cfg;
}
