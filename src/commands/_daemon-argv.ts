/**
 * `berth -d …` is Docker 0.8's spelling of `berth daemon …`; and dockerd takes --root, -s, --config-file,
 * --log-level and -D after its name. Both become the ordinary form: the global flags move before the
 * `daemon` command (main.ts parses them there).
 */
const GLOBAL_WITH_VALUE = new Set(["--root", "--storage-driver", "-s", "--config-file", "--log-level", "-l"]);
const GLOBAL_BOOL = new Set(["--debug", "-D"]);

export function daemonArgv(argv: string[]): string[] {
  // the command's position: after the global flags (and their values)
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith("-") && argv[i] !== "-" && argv[i] !== "-d" && argv[i] !== "--daemon")
    i += GLOBAL_WITH_VALUE.has(argv[i]!) ? 2 : 1;
  if (i >= argv.length || !["daemon", "-d", "--daemon"].includes(argv[i]!)) return argv;
  const globals = argv.slice(0, i);
  const own: string[] = [];
  const rest = argv.slice(i + 1);
  for (let j = 0; j < rest.length; j++) {
    const a = rest[j]!;
    const name = a.split("=")[0]!;
    if (GLOBAL_WITH_VALUE.has(name)) {
      if (a.includes("=")) globals.push(a);
      else globals.push(a, rest[++j] ?? "");
    } else if (GLOBAL_BOOL.has(a)) globals.push(a);
    else own.push(a);
  }
  return [...globals, "daemon", ...own];
}
