/**
 * The `sidecarless` command's dispatcher. Each command's module is imported only when it runs:
 * `check` does not load esbuild, `invoke` does not load the Istio loader.
 */
import { UsageError } from './terminal.js';

const top = `Usage: sidecarless <command> [options]

Commands:
  check     what will and will not be honoured of the given Istio resources (exit 0: all)
  explain   the options a function will run with after scoping
  invoke    run a handler once, locally, through its adapter, with a realistic event
  cost      what each feature package adds to a bundled handler's size and cold start
  events    list the shipped events, or print one to start your own from

Run sidecarless <command> --help for a command's options.

Examples:
  sidecarless check deploy/ --namespace shop --labels app=orders
  sidecarless invoke src/orders.ts --export api --event api-gw-v2
  sidecarless cost src/orders.ts --export api`;

const eventsUsage = `Usage: sidecarless events [NAME]

Lists the events shipped for invoke and cost, or prints one as JSON — a start for your own
(sidecarless invoke handler.ts --event my-event.json).

Examples:
  sidecarless events
  sidecarless events sqs > sqs-poison.json`;

type Command = { usage: () => Promise<string>; run: (argv: readonly string[]) => Promise<number> };

const commands: Record<string, Command> = {
  check: {
    usage: async () => (await import('./check.js')).checkUsage,
    run: async (argv) => (await import('./check.js')).check(argv),
  },
  explain: {
    usage: async () => (await import('./check.js')).explainUsage,
    run: async (argv) => (await import('./check.js')).explain(argv),
  },
  invoke: {
    usage: async () => (await import('./invoke.js')).invokeUsage,
    run: async (argv) => (await import('./invoke.js')).invoke(argv),
  },
  cost: {
    usage: async () => (await import('./cost.js')).costUsage,
    run: async (argv) => (await import('./cost.js')).cost(argv),
  },
  events: {
    usage: async () => eventsUsage,
    run: async (argv) => {
      const { eventNames, isEventName, readEvent } = await import('./events.js');
      if (argv.length === 0) {
        process.stdout.write(`${eventNames.join('\n')}\n`);
        return 0;
      }
      const name = argv[0]!;
      if (argv.length > 1 || !isEventName(name))
        throw new UsageError(
          `events: "${argv.join(' ')}" is not one event name; use one of ${eventNames.join(', ')}`,
        );
      process.stdout.write(`${JSON.stringify(readEvent(name), null, 2)}\n`);
      return 0;
    },
  },
};

/** Runs the command line `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const name = argv[0];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${top}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command === undefined)
    throw new UsageError(
      `unknown command "${name}"; use ${Object.keys(commands).slice(0, -1).join(', ')} or ${Object.keys(commands).at(-1)} (sidecarless --help)`,
    );
  const rest = argv.slice(1);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${await command.usage()}\n`);
    return 0;
  }
  return command.run(rest);
}
