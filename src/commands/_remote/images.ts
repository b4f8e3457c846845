/** Client mode `images`: `GET /images/json`, printed by images' own formatter */
import type { RunInput } from "../_command.ts";
import { filtersParam, type ApiClient } from "../../client/index.ts";
import type { ImageSummary } from "../../engine/index.ts";
import { printImages } from "../images.ts";

export default async function images(input: RunInput, api: ApiClient) {
  const f = input.flags;
  const filters = [...((f.filter as string[]) ?? []), ...(input.positionals[0] ? [`reference=${input.positionals[0]}`] : [])];
  const list = await api.json<ImageSummary[]>("GET", "/images/json", { query: { all: !!f.all, digests: !!f.digests, filters: filtersParam(filters) } });
  printImages(input.ctx, f, list ?? []);
}
