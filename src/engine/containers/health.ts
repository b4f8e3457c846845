/**
 * docker's health checks, the pure half: the effective check (image HEALTHCHECK overridden by the
 * --health-* flags), the probe's argv, and how one probe result moves the container's health (moby
 * daemon/health.go). The supervisor runs the probes (service.ts startHealth).
 *
 *   starting   until the first passing probe; failures inside --health-start-period do not count
 *   healthy    after a passing probe (the failing streak goes back to 0)
 *   unhealthy  after --health-retries failures in a row
 */
import { EngineError } from "../../lib/errors.ts";
import type { HealthConfig } from "../../oci/index.ts";

const S = 1_000_000_000;
export const DEFAULTS = { Interval: 30 * S, Timeout: 30 * S, StartPeriod: 0, Retries: 3 };
/** docker keeps the last five results and at most 4 KiB of each probe's output */
export const MAX_LOG = 5;
export const MAX_OUTPUT = 4096;

export interface HealthResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: "starting" | "healthy" | "unhealthy";
  FailingStreak: number;
  Log: HealthResult[];
}

export interface HealthFlags {
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthStartPeriod?: string;
  healthRetries?: string;
  noHealthcheck?: boolean;
}

const bad = (msg: string) => new EngineError("invalid_argument", msg);

/** Go's time.ParseDuration, in nanoseconds ("1m30s", "500ms", "2h") */
export function parseGoDuration(v: string, flag: string): number {
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (v === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < v.length) {
    re.lastIndex = pos;
    const m = re.exec(v);
    if (!m) throw bad(`invalid argument "${v}" for "${flag}" flag: time: invalid duration "${v}"`);
    total += Number(m[1]) * unit[m[2]!]!;
    pos = re.lastIndex;
  }
  if (!v) throw bad(`invalid argument "${v}" for "${flag}" flag: time: invalid duration "${v}"`);
  return Math.round(total);
}

/** the image's HEALTHCHECK with the flags over it; undefined when there is none (or NONE) */
export function effectiveHealthcheck(image: HealthConfig | undefined, f: HealthFlags): HealthConfig | undefined {
  const any =
    f.healthCmd !== undefined ||
    f.healthInterval !== undefined ||
    f.healthTimeout !== undefined ||
    f.healthStartPeriod !== undefined ||
    f.healthRetries !== undefined;
  if (f.noHealthcheck) {
    if (any) throw bad("--no-healthcheck conflicts with --health-* options");
    return { Test: ["NONE"] };
  }
  const hc: HealthConfig = { ...(image ?? {}) };
  if (f.healthCmd !== undefined) hc.Test = f.healthCmd === "" ? undefined : ["CMD-SHELL", f.healthCmd];
  const dur = (v: string | undefined, flag: string, key: "Interval" | "Timeout" | "StartPeriod") => {
    if (v === undefined) return;
    const n = parseGoDuration(v, flag);
    if (n < 0 || (n > 0 && n < 1_000_000)) throw bad(`${flag} cannot be less than 1ms`);
    hc[key] = n;
  };
  dur(f.healthInterval, "--health-interval", "Interval");
  dur(f.healthTimeout, "--health-timeout", "Timeout");
  dur(f.healthStartPeriod, "--health-start-period", "StartPeriod");
  if (f.healthRetries !== undefined) {
    if (!/^\d+$/.test(f.healthRetries))
      throw bad(`invalid argument "${f.healthRetries}" for "--health-retries" flag: strconv.ParseInt: parsing "${f.healthRetries}": invalid syntax`);
    hc.Retries = Number(f.healthRetries);
  }
  if (!hc.Test || hc.Test.length === 0) return image?.Test?.[0] === "NONE" ? { Test: ["NONE"] } : undefined;
  return hc;
}

/** whether a container with this config gets health checks */
export function hasHealthcheck(hc: HealthConfig | undefined): hc is HealthConfig & { Test: string[] } {
  return !!hc?.Test?.length && hc.Test[0] !== "NONE";
}

/** the probe's argv: CMD runs as given, CMD-SHELL through /bin/sh -c */
export function probeArgv(test: string[]): string[] {
  if (test[0] === "CMD") return test.slice(1);
  if (test[0] === "CMD-SHELL") return ["/bin/sh", "-c", test.slice(1).join(" ")];
  throw new EngineError("invalid_argument", `unknown healthcheck type "${test[0]}"`);
}

/** interval, timeout, start period in ms and retries, with docker's defaults for zero values */
export function timings(hc: HealthConfig): { interval: number; timeout: number; startPeriod: number; retries: number } {
  return {
    interval: (hc.Interval || DEFAULTS.Interval) / 1e6,
    timeout: (hc.Timeout || DEFAULTS.Timeout) / 1e6,
    startPeriod: (hc.StartPeriod || DEFAULTS.StartPeriod) / 1e6,
    retries: hc.Retries || DEFAULTS.Retries,
  };
}

/** one probe's result applied to the health (moby's handleProbeResult) */
export function applyProbe(h: HealthState, r: HealthResult, o: { retries: number; inStartPeriod: boolean }): HealthState {
  const log = [...h.Log, { ...r, Output: r.Output.length > MAX_OUTPUT ? r.Output.slice(0, MAX_OUTPUT) : r.Output }].slice(-MAX_LOG);
  if (r.ExitCode === 0) return { Status: "healthy", FailingStreak: 0, Log: log };
  // failures while the container is still starting up do not count
  if (o.inStartPeriod && h.Status !== "healthy") return { ...h, Log: log };
  const streak = h.FailingStreak + 1;
  return { Status: streak >= o.retries ? "unhealthy" : h.Status, FailingStreak: streak, Log: log };
}
