/**
 * berth as an OCI runtime (issue 14): runc's lifecycle over the shared runtime (src/runtime). The
 * command front door is src/commands/oci; this module owns the state under --root and the spec → plan
 * conversion.
 */
export { OciRuntime, runHooks, type CreateOptions as OciCreateOptions, type OciRuntimeOptions } from "./lifecycle.ts";
export { DEFAULT_OCI_ROOT, OCI_VERSION, type OciStateDoc, type OciStatus } from "./state.ts";
export { parseSpec, type OciSpec, type OciProcess, type OciResources } from "./spec.ts";
export { defaultSpec, features } from "./defaults.ts";
