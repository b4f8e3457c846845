/**
 * `berth completion bash|zsh|fish`: a shell script that completes berth's commands, flags and the names
 * of containers, images, networks and volumes. The script asks the binary itself (`berth __complete`,
 * as cobra-based CLIs do), so the candidates always match the binary that runs.
 */
import { defineBerthCommand } from "./_command.ts";
import { UsageError } from "../lib/errors.ts";

const bash = `# bash completion for berth (source it, or put it in /etc/bash_completion.d/berth)
_berth_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  COMPREPLY=($("\${COMP_WORDS[0]}" __complete -- "$cur" "\${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null))
  if [[ \${#COMPREPLY[@]} -eq 1 && "\${COMPREPLY[0]}" == *[:=] ]]; then compopt -o nospace 2>/dev/null; fi
}
complete -o default -o bashdefault -F _berth_complete berth
`;

const zsh = `#compdef berth
# zsh completion for berth (put it in your $fpath as _berth, or: source <(berth completion zsh))
_berth() {
  local -a candidates
  candidates=("\${(@f)$("\${words[1]}" __complete -- "\${PREFIX}" "\${(@)words[2,CURRENT-1]}" 2>/dev/null)}")
  candidates=("\${(@)candidates:#}")
  if (( \${#candidates} )); then compadd -Q -- "\${candidates[@]}"; else _files; fi
}
if [[ "\${funcstack[1]}" = "_berth" ]]; then _berth "$@"; else compdef _berth berth; fi
`;

const fish = `# fish completion for berth (put it in ~/.config/fish/completions/berth.fish)
function __berth_complete
  set -l tokens (commandline -opc)
  set -e tokens[1]
  berth __complete -- (commandline -ct) $tokens 2>/dev/null
end
complete -c berth -f -a '(__berth_complete)'
`;

const scripts: Record<string, string> = { bash, zsh, fish };

export default defineBerthCommand({
  meta: { name: "completion", description: "Output shell completion code for bash, zsh or fish", usage: "SHELL", minArgs: 1, maxArgs: 1 },
  args: {},
  run({ positionals, ctx }) {
    const script = scripts[positionals[0]!];
    if (!script) throw new UsageError(`unsupported shell "${positionals[0]}": use bash, zsh or fish`);
    ctx.out(script);
  },
});
