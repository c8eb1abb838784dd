#!/usr/bin/env node
// Writes sample Kamstrup flowIQ 2101 telegrams (AES-128-CTR, full and compact frames) made by the project's
// own encoder, and the key file to decode them, for the `npm run start:local` demo.
//   node scripts/demo/sample-telegrams.js <output dir> [meter count]
// Output: <dir>/keys.csv ("meter_id,key_hex") and <dir>/telegrams.hex (one telegram per line).
// Needs the compiled libraries (npm run build).
const { randomBytes } = require('node:crypto');
const { mkdirSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { encodeTelegram } = require(resolve(__dirname, '../../dist/libs/wmbus/src'));

const [outputDir, countArg] = process.argv.slice(2);
if (!outputDir) {
  console.error('usage: sample-telegrams.js <output dir> [meter count]');
  process.exit(2);
}
const meterCount = Number(countArg ?? 5);

const keys = ['meter_id,key_hex'];
const telegrams = [];
for (let i = 0; i < meterCount; i++) {
  const id = String(76348800 + i);
  const key = randomBytes(16);
  keys.push(`${id},${key.toString('hex')}`);
  const totalM3 = Math.round((100 + i * 17.123) * 1000) / 1000;
  const records = [
    // Kamstrup info codes (no alarms), volume now and at the last target date, flow temperature, ambient.
    { dif: 0x02, vif: 0xff, vifes: [0x20], raw: Buffer.from('0000', 'hex') },
    { dif: 0x04, vif: 0x13, value: totalM3 },
    { dif: 0x44, vif: 0x13, value: Math.round((totalM3 - 3.5) * 1000) / 1000 },
    { dif: 0x61, vif: 0x5b, value: 11 + i },
    { dif: 0x61, vif: 0x67, value: 19 },
  ];
  const meter = { manufacturer: 'KAM', id, version: 0x1b, deviceType: 0x16, key, records };
  // A full frame first teaches the decoder the compact format that the following frame uses.
  telegrams.push(
    encodeTelegram({ ...meter, frame: 'kamstrup-full', accessNumber: (2 * i) & 0xff }).toString('hex'),
  );
  telegrams.push(
    encodeTelegram({ ...meter, frame: 'kamstrup-compact', accessNumber: (2 * i + 1) & 0xff }).toString('hex'),
  );
}

mkdirSync(outputDir, { recursive: true });
writeFileSync(join(outputDir, 'keys.csv'), `${keys.join('\n')}\n`, { mode: 0o600 });
writeFileSync(join(outputDir, 'telegrams.hex'), `${telegrams.join('\n')}\n`);
console.error(
  `wrote ${telegrams.length} telegrams of ${meterCount} meters to ${join(outputDir, 'telegrams.hex')}`,
);
