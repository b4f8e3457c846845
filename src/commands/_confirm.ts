/**
 * docker's prune prompt: the warning and "Are you sure you want to continue? [y/N] " on stdout, one
 * line read from stdin whatever it is (a terminal, a pipe, /dev/null). Only "y"/"yes" proceeds; EOF
 * or anything else is a no, so a script without -f never deletes by accident.
 */
export async function confirm(force: boolean, warning: string): Promise<boolean> {
  if (force) return true;
  process.stdout.write(`WARNING! ${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = await readLine();
  return /^y(es)?$/i.test(answer.trim());
}

async function readLine(): Promise<string> {
  const dec = new TextDecoder();
  let s = "";
  const reader = Bun.stdin.stream().getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return s;
      s += dec.decode(value, { stream: true });
      const nl = s.indexOf("\n");
      if (nl >= 0) return s.slice(0, nl);
    }
  } finally {
    reader.releaseLock();
  }
}

/** `system prune`'s warning: what it will remove, as docker lists it */
export function systemPruneWarning(o: { volumes?: boolean; all?: boolean }): string {
  return [
    "This will remove:",
    "  - all stopped containers",
    "  - all networks not used by at least one container",
    ...(o.volumes ? ["  - all anonymous volumes not used by at least one container"] : []),
    o.all ? "  - all images without at least one container associated to them" : "  - all dangling images",
    "  - unused build cache",
    "",
  ].join("\n");
}
