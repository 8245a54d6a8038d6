import type { Command } from 'commander';

/** What a command module exports: it adds its commands to the program. */
export type RegisterCommands = (program: Command) => void;

/**
 * The program's command group `name` (`config`, `cache`, ...), made on first use, so that
 * several modules can add subcommands to one group whatever order they are registered in.
 */
export function commandGroup(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}
