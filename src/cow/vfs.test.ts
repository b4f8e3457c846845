import { snapshotterSuite } from "./testsuite.ts";
import { VfsDriver } from "./vfs.ts";
import { rootEnabled } from "../../test/helpers/root.ts";

snapshotterSuite("vfs", (root) => new VfsDriver(root), { requiresRoot: false, rootEnabled });
