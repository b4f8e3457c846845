/** Client mode `ps`: `GET /containers/json`, printed by ps's own formatter */
import type { RunInput } from "../_command.ts";
import { filtersParam, type ApiClient } from "../../client/index.ts";
import type { ContainerSummary } from "../../engine/index.ts";
import { printContainers, wantsSize } from "../ps.ts";

export default async function ps(input: RunInput, api: ApiClient) {
  const f = input.flags;
  const last = f.latest ? 1 : f.last !== undefined ? Number(f.last) : -1;
  const list = await api.json<ContainerSummary[]>("GET", "/containers/json", {
    query: { all: !!f.all, limit: last >= 0 ? last : undefined, size: wantsSize(input.ctx, f), filters: filtersParam(f.filter as string[]) },
  });
  printContainers(input.ctx, f, list ?? []);
}
