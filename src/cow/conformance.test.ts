/**
 * The conformance suite (testsuite.ts) over every registered storage driver: registering a driver is
 * what puts it under test. Driver-specific tests stay beside each driver (overlay.test.ts, btrfs.test.ts).
 */
import { registeredDrivers } from "./index.ts";
import { registeredDriversSuite } from "./testsuite.ts";
import { rootEnabled } from "../../test/helpers/root.ts";
import { loopFilesystem } from "../../test/helpers/btrfs.ts";

registeredDriversSuite(registeredDrivers(), { rootEnabled, scratch: loopFilesystem });
