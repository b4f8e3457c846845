/**
 * The OCI runtime's on-disk state: <root>/<id>/state.json (what `create` learned: pid, its start time,
 * bundle, cgroup, the spec) and <root>/<id>/exec.fifo (present from `create` until `start`). The status
 * is derived each time from the process and the fifo, as runc does, so the state survives the caller's
 * restart and a container that died meanwhile reads "stopped".
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { EngineError } from "../../lib/errors.ts";
import { detectLayout, isAlive } from "../../runtime/index.ts";
import type { OciSpec } from "./spec.ts";

export const DEFAULT_OCI_ROOT = "/run/berth-runc";

export type OciStatus = "creating" | "created" | "running" | "paused" | "stopped";

export interface OciRecord {
  id: string;
  pid: number;
  /** /proc/<pid>/stat starttime, to tell the container's process from a later one with its pid */
  startTime: string;
  bundle: string;
  rootfs: string;
  /** RFC 3339, when `create` began */
  created: string;
  owner: string;
  cgroupPath: string;
  /** set while `create` runs; cleared when the container is parked */
  creating?: boolean;
  spec: OciSpec;
}

/** runc's `state` document (and the state hooks read on stdin) */
export interface OciStateDoc {
  ociVersion: string;
  id: string;
  pid: number;
  status: OciStatus;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

/** the runtime-spec version berth implements */
export const OCI_VERSION = "1.2.0";

const ID = /^[\w+\-.]+$/;

export function checkId(id: string): void {
  if (!id) throw new EngineError("invalid_argument", "container id cannot be empty");
  if (!ID.test(id) || id === "." || id === "..") throw new EngineError("invalid_argument", `invalid container id format: ${id}`);
}

export const dirOf = (root: string, id: string) => `${root}/${id}`;
export const fifoOf = (root: string, id: string) => `${root}/${id}/exec.fifo`;

/** the record, or a "does not exist" error (containerd and podman look for those words) */
export function load(root: string, id: string): OciRecord {
  checkId(id);
  let text: string;
  try {
    text = readFileSync(`${dirOf(root, id)}/state.json`, "utf8");
  } catch {
    throw new EngineError("not_found", "container does not exist"); // ENOENT (or unreadable): runc says the same
  }
  try {
    return JSON.parse(text) as OciRecord;
  } catch (e) {
    throw new EngineError("internal", `container ${id}: state.json: ${(e as Error).message}`);
  }
}

export function save(root: string, rec: OciRecord): void {
  const dir = dirOf(root, rec.id);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const tmp = `${dir}/state.json.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(rec), { mode: 0o600 });
  renameSync(tmp, `${dir}/state.json`);
}

/** every container id with a state file under root */
export function listIds(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return []; // no root yet: no containers
  }
  return names.filter((n) => existsSync(`${root}/${n}/state.json`)).sort();
}

function frozen(cgroupPath: string): boolean {
  const layout = detectLayout();
  const rel = cgroupPath;
  if (layout.kind === "v2") {
    const u = layout.hierarchies.find((h) => h.type === "cgroup2");
    return u ? /^frozen 1$/m.test(readOr(`${u.dir}/${rel}/cgroup.events`)) : false;
  }
  const f = layout.hierarchies.find((h) => h.controllers.includes("freezer"));
  return f ? readOr(`${f.dir}/${rel}/freezer.state`).trim() === "FROZEN" : false;
}

function readOr(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return ""; // no such cgroup file: not frozen
  }
}

export function statusOf(root: string, rec: OciRecord): OciStatus {
  const alive = isAlive(rec.pid, rec.startTime);
  if (rec.creating) return alive || !rec.pid ? "creating" : "stopped";
  if (!alive) return "stopped";
  if (existsSync(fifoOf(root, rec.id))) return "created";
  return frozen(rec.cgroupPath) ? "paused" : "running";
}

export function stateDoc(root: string, rec: OciRecord, status = statusOf(root, rec)): OciStateDoc {
  return {
    ociVersion: rec.spec.ociVersion || OCI_VERSION,
    id: rec.id,
    pid: status === "stopped" ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
    ...(rec.spec.annotations && Object.keys(rec.spec.annotations).length ? { annotations: rec.spec.annotations } : {}),
  };
}
