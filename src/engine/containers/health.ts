/**
 * docker's health checks, the pure half: the probe's argv, its timings, and how one probe result moves
 * the container's health (moby daemon/health.go). The check itself is the image's HEALTHCHECK merged
 * with the request's (create-config.ts mergeHealthcheck). The supervisor runs the probes (service.ts startHealth).
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
