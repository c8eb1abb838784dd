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
  return `{"telegram":"${item.hex}","receivedAt":"${new Date(item.receivedAt).toISOString()}","rssi":${item.rssi}${gateway}}`;
}
