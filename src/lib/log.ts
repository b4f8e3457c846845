/**
 * The logger passed in every command context. Logs, progress and errors go to stderr; stdout is for
 * data only (STYLE §8), so `id=$(berth run -d …)` always works. Colour only on a TTY and never when
 * NO_COLOR, TERM=dumb or CI is set. The caller (main.ts) passes the stream, the environment and the
 * writer: nothing here touches the process.
 */
// consola/core: the same createConsola without the default fancy reporters and their dependencies
// (importing "consola" costs ~50 ms at every start-up; berth brings its own reporter)
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";

export type Logger = ConsolaInstance;

export function useColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb" || env.CI) return false;
  return !!stream.isTTY;
}

const LEVELS: Record<string, number> = { fatal: 0, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

export function parseLogLevel(name: string): number | undefined {
  return LEVELS[name];
}

/** `write` takes each finished line; `color` paints the level tags (useColor), asked at the first line */
export function createLogger(level: number, write: (line: string) => void, color: boolean | (() => boolean) = false): Logger {
  return createConsola({
    level,
    reporters: [
      {
        log(obj: LogObject) {
          const msg = obj.args.map((a) => (typeof a === "string" ? a : a instanceof Error ? a.message : Bun.inspect(a))).join(" ");
          const tag = obj.type === "log" || obj.type === "info" || obj.type === "success" ? "" : `${obj.type}: `;
          const painted =
            tag && (typeof color === "function" ? color() : color) ? `\x1b[${obj.level <= 0 ? 31 : obj.level === 1 ? 33 : 90}m${tag}\x1b[0m` : tag;
          write(`${painted}${msg}\n`);
        },
      },
    ],
  });
}
