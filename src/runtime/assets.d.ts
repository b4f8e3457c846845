// C sources imported `with { type: "file" }` (shim.ts, monitor.ts, layer-inflate.ts): a path, read when
// needed (from disk when running from source, from the binary's embedded files when compiled)
declare module "*.c" {
  const path: string;
  export default path;
}
