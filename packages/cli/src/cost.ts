export const costUsage = 'todo';
export async function cost(_argv: readonly string[]): Promise<number> {
  return 0;
}
