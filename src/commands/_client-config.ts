/**
 * docker's client config file ($DOCKER_CONFIG/config.json, else ~/.docker/config.json): the keys the
 * CLI itself reads (psFormat, imagesFormat). Credentials are the registry client's (image/registry/auth.ts).
 * A file that is not there is an empty config; one that cannot be read or parsed is docker's warning.
 */
import { readFileSync } from "node:fs";
import { dockerConfigPath } from "../engine/index.ts";
import type { Context } from "./_context.ts";

export interface ClientConfig {
  /** `ps`'s format when --format is not given (docker's psFormat) */
  psFormat?: string;
  /** `images`'s format when --format is not given (docker's imagesFormat) */
  imagesFormat?: string;
}

export function readClientConfig(ctx: Pick<Context, "env" | "log">): ClientConfig {
  const path = dockerConfigPath(ctx.env);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") ctx.log.warn(`Error loading config file: ${path}: ${(e as Error).message}`);
    return {};
  }
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    const str = (k: string) => (typeof o?.[k] === "string" && o[k] !== "" ? (o[k] as string) : undefined);
    return { psFormat: str("psFormat"), imagesFormat: str("imagesFormat") };
  } catch (e) {
    ctx.log.warn(`Error loading config file: ${path}: ${(e as Error).message}`);
    return {};
  }
}
