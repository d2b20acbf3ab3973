// Tab completion scripts. Each asks taskctl itself what may come next (yargs answers
// `--get-yargs-completions <words>` from the same command definitions --help reads), so a script written
// into ~/.bashrc once never goes stale as commands and options change.

/** The shells `taskctl completion` writes a script for. */
export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

// yargs picks its answer's format from $SHELL and $ZSH_NAME: "name:description" for zsh, bare names
// otherwise. Each script names its own shell, so a zsh user who starts bash (or the reverse) is still
// answered in the format the script reads.
const BASH = `###-begin-taskctl-completions-###
# taskctl completion for bash. Install: taskctl completion bash >> ~/.bashrc
_taskctl_completions() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" candidates line
  # The words up to the cursor: what follows it does not change what may be typed here.
  candidates=$(SHELL=bash taskctl --get-yargs-completions "\${COMP_WORDS[@]:0:COMP_CWORD+1}" 2>/dev/null)
  COMPREPLY=()
  # read, not mapfile: macOS still ships bash 3.2.
  while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen -W "$candidates" -- "$cur")
}
complete -o bashdefault -o default -F _taskctl_completions taskctl
###-end-taskctl-completions-###
`;

const ZSH = `#compdef taskctl
###-begin-taskctl-completions-###
# taskctl completion for zsh. Install: taskctl completion zsh >> ~/.zshrc (after compinit),
# or save it as _taskctl in a folder on $fpath.
_taskctl() {
  local -a reply
  # The words up to the cursor; each answer is "name:description", which _describe shows side by side.
  reply=(\${(f)"$(ZSH_NAME=zsh taskctl --get-yargs-completions "\${(@)words[1,CURRENT]}" 2>/dev/null)"})
  if (( \${#reply} )); then
    _describe 'values' reply
  else
    _default
  fi
}
if [[ "\${zsh_eval_context[-1]}" == "loadautofunc" ]]; then
  # Autoloaded from $fpath: this file ran as the body of _taskctl, which it has just redefined as the
  # function above (so later Tabs call that directly); this Tab is answered by calling it.
  _taskctl "$@"
else
  compdef _taskctl taskctl
fi
###-end-taskctl-completions-###
`;

/** The completion script for `shell`, to be sourced by it; it runs `taskctl` from the PATH. */
export function completionScript(shell: CompletionShell): string {
  return shell === 'zsh' ? ZSH : BASH;
}
