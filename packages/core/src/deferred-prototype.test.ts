import { describe, expect, it } from 'vitest';
import { inheritOnDemand } from './deferred-prototype.js';

/** A stand-in "standard" class, and a lazy class that inherits from it on demand. */
function setUp() {
  let loads = 0;
  let links = 0;
  class Standard {
    get kind(): string {
      return 'standard';
    }
    standardOnly(): string {
      return 'from the standard prototype';
    }
    static staticOnly(): string {
      return 'standard static';
    }
  }
  class Lazy {
    own(): string {
      return 'own member';
    }
    // As the lazy Fetch classes do: Object.prototype.toString looks this up.
    get [Symbol.toStringTag](): string {
      return 'Lazy';
    }
  }
  inheritOnDemand(
    Lazy.prototype,
    () => {
      loads++;
      return Standard.prototype;
    },
    { onLink: () => void links++ },
  );
  inheritOnDemand(
    Lazy,
    () => {
      loads++;
      return Standard;
    },
    { base: Function.prototype },
  );
  return { Standard, Lazy, loads: () => loads, links: () => links };
}

describe('inheritOnDemand', () => {
  it('loads nothing for the class’s own members, `then`, or Object.prototype’s members', async () => {
    const { Lazy, loads } = setUp();
    const lazy = new Lazy();
    expect(lazy.own()).toBe('own member');
    expect((lazy as unknown as { then?: unknown }).then).toBeUndefined();
    expect('then' in lazy).toBe(false);
    // Resolving a promise with the object looks up `then`.
    expect(await Promise.resolve(lazy)).toBe(lazy);
    expect(Object.hasOwn(lazy, 'own')).toBe(false);
    expect(Object.hasOwn(lazy, 'own')).toBe(false);
    expect(String(lazy)).toBe('[object Lazy]');
    expect(`${lazy}`).toBe('[object Lazy]');
    expect(JSON.stringify(lazy)).toBe('{}');
    expect(lazy instanceof Lazy).toBe(true);
    expect(loads()).toBe(0);
  });

  it('links on the first instanceof check against the standard class, once', () => {
    const { Standard, Lazy, loads, links } = setUp();
    const lazy = new Lazy();
    expect(lazy instanceof Standard).toBe(true);
    expect(loads()).toBe(1);
    expect(links()).toBe(1);
    expect(Object.getPrototypeOf(Lazy.prototype)).toBe(Standard.prototype);
    expect(new Lazy() instanceof Standard).toBe(true);
    expect(Object.prototype.isPrototypeOf.call(Standard.prototype, new Lazy())).toBe(true);
    expect(links()).toBe(1);
  });

  it('links for a member only the standard class has, and answers it', () => {
    const { Lazy, loads } = setUp();
    const lazy = new Lazy() as unknown as { standardOnly(): string; kind: string };
    expect(lazy.standardOnly()).toBe('from the standard prototype');
    expect(lazy.kind).toBe('standard');
    expect('standardOnly' in new Lazy()).toBe(true);
    expect(loads()).toBe(1);
  });

  it('answers `in` for members the standard class has by linking', () => {
    const { Lazy, loads } = setUp();
    expect('kind' in new Lazy()).toBe(true);
    expect(loads()).toBe(1);
  });

  it('keeps instanceof on the class itself free: Function.prototype’s members answer without linking', () => {
    const { Standard, Lazy, loads } = setUp();
    expect(new Lazy() instanceof Lazy).toBe(true);
    expect(typeof Lazy.call).toBe('function');
    expect(loads()).toBe(0);
    expect((Lazy as unknown as { staticOnly(): string }).staticOnly()).toBe('standard static');
    expect(Object.getPrototypeOf(Lazy)).toBe(Standard);
  });
});
