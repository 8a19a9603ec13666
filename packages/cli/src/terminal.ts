/**
 * Output for people and for tools: colour only when the stream is a terminal and `NO_COLOR` is
 * not set (no-color.org), or when `FORCE_COLOR` asks for it; plain text when piped.
 */

/** A user mistake: printed as one line naming the fix, no stack, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Whether to colour what is written to `stream`. */
export function colours(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export type Paint = (code: 'green' | 'yellow' | 'red' | 'dim' | 'bold' | 'cyan', text: string) => string;

const codes = { green: 32, yellow: 33, red: 31, dim: 2, bold: 1, cyan: 36 } as const;

/** SGR colouring for `stream`, or the identity when it should stay plain. */
export function painter(stream: NodeJS.WriteStream): Paint {
  if (!colours(stream)) return (_code, text) => text;
  return (code, text) => `\x1b[${codes[code]}m${text}\x1b[0m`;
}

/** Lines padded into columns; the first column left-aligned, the rest right-aligned. */
export function table(
  rows: readonly (readonly string[])[],
  visibleLength = (text: string) => text.length,
): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, visibleLength(cell));
    });
  return rows.map((row) =>
    row
      .map((cell, index) => {
        const pad = ' '.repeat((widths[index] ?? 0) - visibleLength(cell));
        return index === 0 ? cell + pad : pad + cell;
      })
      .join('  ')
      .trimEnd(),
  );
}

/** The length of `text` as a terminal shows it, colour codes aside. */
export function visible(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: SGR sequences start with ESC.
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}
