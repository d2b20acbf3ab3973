import { COMPLETION_SHELLS, type CompletionShell, completionScript } from '../completion-scripts.ts';
import { type CommandDefinition, ExitCode } from '../context.ts';

export type CompletionArgs = { shell: CompletionShell };

export const completionCommand: CommandDefinition<CompletionArgs> = {
  command: 'completion <shell>',
  describe: 'Print the script that completes taskctl commands and options on Tab in bash or zsh',
  needs: 'a shell: taskctl completion bash, or taskctl completion zsh',
  builder: (yargs) =>
    yargs
      .positional('shell', { type: 'string', choices: COMPLETION_SHELLS, describe: 'The shell that will load the script' })
      .example('taskctl completion bash >> ~/.bashrc', 'complete on Tab in every new bash')
      .example('taskctl completion zsh >> ~/.zshrc', 'the same in zsh (after compinit)')
      .epilogue(
        'The script runs taskctl from the PATH to ask what may come next, so it stays right as taskctl changes.\n\nExit codes: 0 ok, 2 usage error.',
      ) as never,
  run: async (args, { stdout }) => {
    stdout.write(completionScript(args.shell));
    return ExitCode.ok;
  },
};
