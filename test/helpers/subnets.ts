/**
 * Free IPv4 /24s for tests that make bridges: none overlaps an address or route of the host (podman's
 * 10.88.0.0/16 bridge, another run's) nor another of those returned. Random, so parallel runs differ.
 */
export function freeSubnets(n: number, secondOctet: [number, number] = [100, 250]): string[] {
  const text = Bun.spawnSync(["ip", "-4", "-o", "addr"]).stdout.toString() + Bun.spawnSync(["ip", "-4", "route"]).stdout.toString();
  const u32 = (ip: string) => ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
  const used = [...text.matchAll(/(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)].map((m) => {
    const size = 2 ** (32 - (m[2] === undefined ? 32 : Number(m[2])));
    const start = Math.floor(u32(m[1]!) / size) * size;
    return [start, start + size] as const;
  });
  const out: string[] = [];
  while (out.length < n) {
    const b = secondOctet[0] + Math.floor(Math.random() * (secondOctet[1] - secondOctet[0]));
    const start = u32(`10.${b}.${Math.floor(Math.random() * 250)}.0`);
    if (used.some(([x, y]) => start < y && x < start + 256)) continue;
    used.push([start, start + 256]);
    out.push(`10.${b}.${(start >>> 8) & 255}.0/24`);
  }
  return out;
}
