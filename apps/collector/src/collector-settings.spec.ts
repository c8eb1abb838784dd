import { loadCollectorSettings } from './collector-settings';

describe('loadCollectorSettings', () => {
  it('defaults to migrating at start-up with MQTT on, and treats empty values as unset', () => {
    const settings = loadCollectorSettings({ COLLECTOR_MQTT_ENABLED: '', COLLECTOR_DB_POOL_SIZE: ' ' });
    expect(settings).toMatchObject({ migrateOnStart: true, mqttEnabled: true, dbPoolSize: 10 });
    expect(settings.mqttClientId).toBeUndefined();
  });

  it('reads flags and names every invalid variable', () => {
    expect(
      loadCollectorSettings({ COLLECTOR_MIGRATE_ON_START: 'false', COLLECTOR_MQTT_ENABLED: '0' }),
    ).toMatchObject({ migrateOnStart: false, mqttEnabled: false });
    expect(() =>
      loadCollectorSettings({ COLLECTOR_MQTT_ENABLED: 'maybe', COLLECTOR_MQTT_SHARE_GROUP: 'a/b' }),
    ).toThrow(/COLLECTOR_MQTT_ENABLED: expected true or false.*COLLECTOR_MQTT_SHARE_GROUP: may not contain/);
  });

  it('trusts no proxy unless COLLECTOR_TRUST_PROXY names one', () => {
    expect(loadCollectorSettings({}).trustProxy).toBe(false);
    expect(loadCollectorSettings({ COLLECTOR_TRUST_PROXY: '10.0.0.0/8' }).trustProxy).toEqual(['10.0.0.0/8']);
    expect(() => loadCollectorSettings({ COLLECTOR_TRUST_PROXY: 'anyone' })).toThrow(
      /COLLECTOR_TRUST_PROXY: 'anyone' is not true, false, a hop count or a proxy address/,
    );
  });
});
