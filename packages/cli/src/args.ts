/** Flag parsing shared by the commands: `node:util`'s strict parser, its errors as usage errors. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './terminal.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` for `command`; an unknown or malformed flag is a {@link UsageError} naming `--help`. */
export function parse<const O extends Options>(command: string, argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]}; see sidecarless ${command} --help`);
  }
}
