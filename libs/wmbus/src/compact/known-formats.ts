/**
 * Compact-frame formats that meter types are known to send, as wmbusmeters' drivers pre-declare them:
 * a driver registers its formats for each (manufacturer, device type) of its detection triplets, and
 * the version byte is not part of the key (spec §6). Shipping them means a compact frame decodes
 * before its meter's first full frame has been seen.
 */
export interface KnownCompactFormats {
  /** wmbusmeters driver that declares the formats; documentation only. */
  driver: string;
  /** Three-letter manufacturer codes. */
  manufacturers: readonly string[];
  /** Device types (EN 13757-7 medium byte); every manufacturer × device type pair gets every format. */
  deviceTypes: readonly number[];
  /** DIF/VIF byte strings, upper-case hex. */
  formats: readonly string[];
}

/** kamwater (MULTICAL 21, flowIQ 2101/2200/3100, KWM 2230/3230), spec §7.5. */
export const KAMSTRUP_WATER_FORMATS: readonly string[] = [
  '02FF2004134413615B6167',
  '02FF20041392013BA1015B8101E7FF0F',
  '04FF234413523B06FF1B426C61675167023B04138101E7FF0F',
  '02FF2004134413426C523B615B616751678101E7FF0F06FF1B',
  '02FF2004134413A1015B8101E7FF0F',
  '02FF2004134413615B5167',
  '02FF2004134413',
  '02FF200413523B',
  '04FF2304134413426C023B92013BA2013B06FF1BA1015B91015BA10167',
];

export const KNOWN_COMPACT_FORMATS: readonly KnownCompactFormats[] = [
  {
    // Detection triplets KAM/06, KAM/16, KAW/16 and KAW/06 (KWM 2230 warm): every combination applies.
    driver: 'kamwater',
    manufacturers: ['KAM', 'KAW'],
    deviceTypes: [0x06, 0x16],
    formats: KAMSTRUP_WATER_FORMATS,
  },
  {
    // MULTICAL heat meters at the outlet (device type 0x04): energy in kWh, volume, power, target date.
    driver: 'kamheat',
    manufacturers: ['KAM'],
    deviceTypes: [0x04],
    formats: ['030643060314426C022D01FF21'],
  },
  {
    // MULTICAL heat meters at the inlet (device type 0x0C): the short set with energy in MJ, and the long
    // set with energy in kWh, E8/E9, volume, flow, temperatures, info code and target values.
    driver: 'kamheat',
    manufacturers: ['KAM'],
    deviceTypes: [0x0c],
    formats: ['030E430E0313426C022D01FF21', '040604FF0704FF080414043B0259025D04FF22026C44064414426C'],
  },
  {
    // Engelmann FAW water meter (detection EFE/06, EFE/07, EFE/16): target date and volume, error flags,
    // 15 historic volumes, date-time and total volume.
    driver: 'engelmann_faw',
    manufacturers: ['EFE'],
    deviceTypes: [0x06, 0x07, 0x16],
    formats: [
      '426C441301FD17840113C40113840213C40213840313C40313840413C40413840513C40513840613C40613840713C40713840813046D0413',
    ],
  },
];
