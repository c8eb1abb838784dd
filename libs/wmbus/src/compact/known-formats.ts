/**
 * Compact-frame formats that Kamstrup water meters (MULTICAL 21, flowIQ 2101/2200/3100, KWM 2230/3230)
 * are known to send (spec §7.5). Shipping them means compact frames decode before the meter's first
 * full frame has been seen.
 */
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

/**
 * wmbusmeters registers a driver's formats for each (manufacturer, device type) of its detection
 * triplets. kamwater's triplets are KAM/06, KAM/16, KAW/16 and KAW/06 (KWM 2230 warm), so every
 * combination of these manufacturers and device types applies.
 */
export const KAMSTRUP_WATER_MANUFACTURERS: readonly string[] = ['KAM', 'KAW'];
export const KAMSTRUP_WATER_DEVICE_TYPES: readonly number[] = [0x06, 0x16];
