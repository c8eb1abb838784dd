/** One telegram on its way to the collector: an original transmission or a gateway's duplicate of it. */
export interface WireItem {
  /** Sequence number of the original transmission (duplicates share it). */
  sequence: number;
  /** Readings the telegram carries (the same for its duplicates). */
  readings: number;
  hex: string;
  /** Receive time the gateway reports, ms since epoch. */
  receivedAt: number;
  rssi: number;
  /** Index of the gateway that sends it. */
  gateway: number;
  duplicate: boolean;
}

/**
 * The collector's item JSON, written by hand: the fields are fixed and their values need no escaping
 * (hex, ISO time, integer, gateway ids checked at start), which keeps JSON.stringify off the hot path.
 */
export function itemJson(item: WireItem, gatewayId: string | undefined): string {
  const gateway = gatewayId === undefined ? '' : `,"gatewayId":"${gatewayId}"`;
  return `{"telegram":"${item.hex}","receivedAt":"${isoTime(item.receivedAt)}","rssi":${item.rssi}${gateway}}`;
}

/** The second the cached prefix belongs to, and its "YYYY-MM-DDTHH:MM:SS." (items come in time order). */
let isoSecond = NaN;
let isoSecondPrefix = '';

/** `new Date(ms).toISOString()` for times in years 0-9999, with the date part built once per second. */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoSecondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const millis = ms - second * 1000;
  return `${isoSecondPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}
