import { expect, test } from "bun:test";
import { bipSubnet, networkEnv, networkSettingsFrom } from "./network.ts";

test("BERTH_BIP: a subnet or docker's gateway form; settings handed on to berth's own processes only", () => {
  expect(bipSubnet("172.30.0.0/16")).toBe("172.30.0.0/16");
  expect(bipSubnet("172.30.0.1/16")).toBe("172.30.0.0/16");
  expect(bipSubnet("10.1.2.3/24")).toBe("10.1.2.0/24");
  expect(() => bipSubnet("10.1.2.3")).toThrow("invalid BERTH_BIP");
  const settings = networkSettingsFrom({ BERTH_BRIDGE: "b0", BERTH_NFT_TABLE: "t", HOME: "/root", BERTH_BIP: "" });
  expect(settings).toEqual({ bridge: "b0", nftTable: "t" });
  expect(networkEnv(settings)).toEqual({ BERTH_BRIDGE: "b0", BERTH_NFT_TABLE: "t" });
});
