// the C shim is embedded as text (shim.ts); tcc needs a real file, so it is written out at runtime
declare module "*.c" {
  const source: string;
  export default source;
}
