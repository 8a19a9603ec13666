/**
 * `pnpm demo` (see demo/main.ts for what it runs). The demo borrows the repository's private
 * test helpers (CA minting, the Runtime API server, the watchdog stand-in, the OTLP receiver),
 * which ship as TypeScript sources importing each other by their `.js` names, as the compiler
 * wants. Plain Node resolves those names literally, so this entry point maps a missing `.js`
 * import from a `.ts` module to its `.ts` source before loading the demo.
 */
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      const fromTypeScript = context.parentURL?.endsWith('.ts') ?? false;
      if (fromTypeScript && specifier.startsWith('.') && specifier.endsWith('.js')) {
        return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
      }
      throw error;
    }
  },
});

await import('./demo/main.ts');
