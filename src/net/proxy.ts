/**
 * The IPv6 side of a published port: a userland TCP proxy on [::]:PORT to the container's IPv4 address,
 * as docker's docker-proxy does for a container without IPv6 (nftables DNAT cannot turn an IPv6
 * connection into an IPv4 one). It lives in the process that supervises the container, like the
 * 127.0.0.11 relay. IPv4 clients never reach it: berth's nat rules DNAT them first, and the socket is
 * IPv6-only.
 */

interface Pipe {
  /** the other side, once connected */
  peer?: Bun.Socket<Pipe>;
  /** bytes the peer could not take yet (written on drain), or that came before the peer connected */
  pending: Uint8Array[];
  closed: boolean;
}

function send(to: Bun.Socket<Pipe> | undefined, from: Pipe, b: Uint8Array): void {
  if (!to || from.pending.length) {
    from.pending.push(b);
    return;
  }
  const n = to.write(b);
  if (n < b.length) from.pending.push(b.subarray(Math.max(n, 0)));
}

function flush(to: Bun.Socket<Pipe>, from: Pipe): void {
  while (from.pending.length) {
    const b = from.pending[0]!;
    const n = to.write(b);
    if (n < b.length) {
      from.pending[0] = b.subarray(Math.max(n, 0));
      return;
    }
    from.pending.shift();
  }
  if (from.closed) to.end();
}

/** proxy [::]:hostPort (TCP) to target:targetPort; listening when it returns (throws when the port is taken) */
export function startTcp6Proxy(o: { hostPort: number; target: string; targetPort: number }): { stop(): void } {
  // ipv6Only: Bun takes it (IPV6_V6ONLY) though its types do not list it yet
  const options = {
    hostname: "::",
    port: o.hostPort,
    ipv6Only: true,
    socket: {
      open(client) {
        client.data = { pending: [], closed: false };
        void Bun.connect<Pipe>({
          hostname: o.target,
          port: o.targetPort,
          data: { pending: [], closed: false, peer: client },
          socket: {
            open(up) {
              client.data.peer = up;
              flush(up, client.data);
            },
            data(up, b) {
              send(client, up.data, b);
            },
            drain(up) {
              flush(up, client.data);
            },
            end(up) {
              up.data.closed = true;
              if (!up.data.pending.length) client.end();
            },
            close(up) {
              up.data.closed = true;
              if (!up.data.pending.length) client.end();
            },
            error() {}, // close follows; nothing else to do
            connectError() {
              client.end();
            },
          },
        }).catch(() => client.end()); // the container does not answer: the client sees its connection closed, as with docker-proxy
      },
      data(client, b) {
        send(client.data.peer, client.data, b);
      },
      drain(client) {
        if (client.data.peer) flush(client, client.data.peer.data);
      },
      end(client) {
        client.data.closed = true;
        if (client.data.peer && !client.data.pending.length) client.data.peer.end();
      },
      close(client) {
        client.data.closed = true;
        if (client.data.peer && !client.data.pending.length) client.data.peer.end();
      },
      error() {}, // close follows; nothing else to do
    },
  } as Bun.TCPSocketListenOptions<Pipe>;
  const server = Bun.listen<Pipe>(options);
  return { stop: () => server.stop(true) };
}
