/**
 * Where docker's client config (config.json: credentials, helpers) lives: $DOCKER_CONFIG, else
 * ~/.docker. Its own module: main.ts needs the path on every command, not the credential code.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export function dockerConfigPath(env: Record<string, string | undefined>): string {
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), ".docker");
  return join(dir, "config.json");
}
