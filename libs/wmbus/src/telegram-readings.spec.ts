import { decodeTelegram } from './decode';
import { telegramReadings } from './telegram-readings';

/** Real Kamstrup MULTICAL 21 full frame (ELL AES-128-CTR) from wmbusmeters' simulations (../shared/wmbus/vectors.jsonl). */
const KAMSTRUP_FULL =
  '2A442D2C998734761B168D2091D37CAC21E1D68CDAFFCD3DC452BD802913FF7B1706CA9E355D6C2701CC24';
const KAMSTRUP_KEY = Buffer.from('28F64A24988064A079AA2C807D6102AE', 'hex');

describe('telegramReadings', () => {
  it("maps a decoded telegram to the driver's named values, status and meter-error flag", () => {
    const outcome = telegramReadings(
      decodeTelegram(Buffer.from(KAMSTRUP_FULL, 'hex'), { key: KAMSTRUP_KEY }),
    );
    expect(outcome).toMatchObject({
      ok: true,
      driver: 'kamwater',
      manufacturer: 'KAM',
      deviceType: 0x16,
      version: 0x1b,
      status: 'DRY',
      meterError: false,
    });
    expect(outcome.ok && outcome.values).toEqual(
      expect.arrayContaining([
        { quantity: 'total_m3', unit: 'm3', value: 6.408, storage: 0, tariff: 0 },
        { quantity: 'target_m3', unit: 'm3', value: 6.408, storage: 1, tariff: 0 },
      ]),
    );
  });

  it('passes the decoder error code and message through for a failed decode', () => {
    expect(telegramReadings(decodeTelegram(Buffer.from(KAMSTRUP_FULL, 'hex')))).toEqual({
      ok: false,
      code: 'NO_KEY',
      message: expect.stringContaining('76348799'),
    });
    const wrongKey = Buffer.alloc(16, 1);
    expect(
      telegramReadings(decodeTelegram(Buffer.from(KAMSTRUP_FULL, 'hex'), { key: wrongKey })),
    ).toMatchObject({ ok: false, code: 'DECRYPTION_FAILED' });
  });
});
