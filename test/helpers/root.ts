/** Root gating (STYLE §9): root tests run whenever the suite runs as root, as CI does, and show as
 * skipped otherwise. */
export const isRoot = process.getuid?.() === 0;
export const rootEnabled = isRoot && process.env.BERTH_TEST_NO_ROOT !== "1";
