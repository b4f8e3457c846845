/** Client mode `create`: the create request from create's own flag parsing, `POST /containers/create` */
import type { RunInput } from "../_command.ts";
import type { ApiClient } from "../../client/index.ts";
import { remoteCreate } from "./run.ts";

export default async function create(input: RunInput, api: ApiClient) {
  const c = await remoteCreate(input, api, false);
  input.ctx.out(c.id + "\n");
}
