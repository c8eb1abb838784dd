import { MeterGroupResolver, MeterRegistryUnavailableError, type MeterGroupSource } from './meter-groups';

class FakeRegistry implements MeterGroupSource {
  groups = new Map<string, string>();
  calls: string[][] = [];
  down = false;
  async groupsOf(ids: readonly string[]) {
    this.calls.push([...ids]);
    if (this.down) throw new Error('connection refused');
    return new Map(ids.filter((id) => this.groups.has(id)).map((id) => [id, this.groups.get(id)!]));
  }
}

describe('MeterGroupResolver', () => {
  let now = 0;
  let registry: FakeRegistry;
  let resolver: MeterGroupResolver;
  beforeEach(() => {
    now = 0;
    registry = new FakeRegistry();
    registry.groups.set('11111111', 'tower-a');
    resolver = new MeterGroupResolver(registry, {
      defaultGroup: 'default',
      refreshMs: 60_000,
      maxEntries: 100,
      now: () => now,
    });
  });

  it('maps registered meters to their group and unknown meters to the default group, asking in bulk once', async () => {
    const groups = await resolver.resolve(['11111111', '22222222', '11111111']);
    expect(Object.fromEntries(groups)).toEqual({ '11111111': 'tower-a', '22222222': 'default' });
    expect(registry.calls).toEqual([['11111111', '22222222']]);
    await resolver.resolve(['22222222']);
    expect(registry.calls).toHaveLength(1);
  });

  it('picks up a registration after the refresh interval', async () => {
    await resolver.resolve(['22222222']);
    registry.groups.set('22222222', 'tower-b');
    now = 60_000;
    expect((await resolver.resolve(['22222222'])).get('22222222')).toBe('tower-b');
  });

  it('serves stale groups when the registry is down, and fails for meters never seen', async () => {
    await resolver.resolve(['11111111']);
    registry.down = true;
    now = 120_000;
    expect((await resolver.resolve(['11111111'])).get('11111111')).toBe('tower-a');
    await expect(resolver.resolve(['11111111', '33333333'])).rejects.toBeInstanceOf(
      MeterRegistryUnavailableError,
    );
  });
});
