// Every CLI command, one per file in this folder. Add a command by importing it here.
import type { Command } from '../command.ts';

export const commands: readonly Command[] = [];
