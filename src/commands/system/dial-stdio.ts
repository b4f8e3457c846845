/**
 * `berth system dial-stdio`: join this process's stdin/stdout to the daemon's socket (-H, else
 * /run/berth/berth.sock), as docker's does. ssh:// client mode runs it on the far side: the HTTP of the
 * near side's client travels over ssh's stdin/stdout. stdin's EOF half-closes the socket; the socket's
 * EOF ends the command.
 */
import { once } from "node:events";
import { defineBerthCommand } from "../_command.ts";
import { EngineError } from "../../lib/errors.ts";

export default defineBerthCommand({
  meta: { name: "dial-stdio", description: "Proxy the stdio stream to the daemon connection. Should not be invoked manually.", usage: "", maxArgs: 0 },
  args: {},
  async run({ ctx }) {
    const { dial, DEFAULT_SOCKET } = await import("../../client/index.ts");
    const ep = ctx.endpoint ?? { host: `unix://${DEFAULT_SOCKET}` };
    if (ep.host.startsWith("ssh://")) throw new EngineError("invalid_argument", `dial-stdio connects to a local socket, not ${ep.host}`);
    const conn = await dial(ep, ctx.env);
    // stdin → the socket, then half-close: the daemon sees the request end, the answer keeps coming
    const up = (async () => {
      try {
        for await (const b of process.stdin as unknown as AsyncIterable<Uint8Array>) await conn.write(b);
      } finally {
        conn.closeWrite();
      }
    })();
    up.catch(() => {}); // the socket went away first: the down side below ends the command
    for (;;) {
      const r = await conn.chunks.next();
      if (r.done) break;
      if (!process.stdout.write(r.value)) await once(process.stdout, "drain");
    }
    conn.close();
  },
});
