/**
 * VIF tables (EN 13757-3 / OMS), normalised to wmbusmeters' preferred units (spec §5.5). Each table is a
 * 128-entry array indexed by the code with the extension bit cleared, built once at load time so that
 * decoding a record is a single array lookup.
 */

/**
 * How the data of a record with this VIF is interpreted:
 * number = scaled numeric value; time_point = date (type G) or date+time (F/I) chosen by data length;
 * digits = identification number kept as decimal digit string (BCD leading zeros matter);
 * unscaled = numeric value without scaling (manufacturer-specific, any-VIF, plain-text unit, reserved).
 */
export type ValueKind = 'number' | 'time_point' | 'digits' | 'unscaled';

export interface VifDescriptor {
  quantity: string;
  unit: string;
  /** Decimal exponent applied to the raw value. */
  exponent: number;
  /** Exact integer factors for non-decimal conversions (minutes → hours, m³/min → m³/h, days → hours). */
  multiplier: number;
  divisor: number;
  kind: ValueKind;
}

function descriptor(quantity: string, unit: string, exponent = 0, kind: ValueKind = 'number'): VifDescriptor {
  return { quantity, unit, exponent, multiplier: 1, divisor: 1, kind };
}

function scaled(
  quantity: string,
  unit: string,
  exponent: number,
  multiplier: number,
  divisor: number,
): VifDescriptor {
  return { quantity, unit, exponent, multiplier, divisor, kind: 'number' };
}

/** Durations coded s/min/h/d by the low two bits, reported in hours as wmbusmeters does. */
function hours(quantity: string, nn: number): VifDescriptor {
  switch (nn) {
    case 0:
      return scaled(quantity, 'h', 0, 1, 3600);
    case 1:
      return scaled(quantity, 'h', 0, 1, 60);
    case 2:
      return scaled(quantity, 'h', 0, 1, 1);
    default:
      return scaled(quantity, 'h', 0, 24, 1);
  }
}

const RESERVED = descriptor('reserved', '', 0, 'unscaled');

function newTable(): VifDescriptor[] {
  return new Array<VifDescriptor>(128).fill(RESERVED);
}

function fill(table: VifDescriptor[], first: number, last: number, make: (n: number) => VifDescriptor): void {
  for (let code = first; code <= last; code++) table[code] = make(code - first);
}

/** Primary VIF table, codes 0x00–0x7A (0x6F, 0x7B–0x7F are table selectors, handled by the parser). */
export const PRIMARY_VIFS: readonly VifDescriptor[] = (() => {
  const t = newTable();
  fill(t, 0x00, 0x07, (n) => descriptor('energy', 'kwh', n - 6));
  fill(t, 0x08, 0x0f, (n) => descriptor('energy', 'mj', n - 6));
  fill(t, 0x10, 0x17, (n) => descriptor('volume', 'm3', n - 6));
  fill(t, 0x18, 0x1f, (n) => descriptor('mass', 'kg', n - 3));
  fill(t, 0x20, 0x23, (n) => hours('on_time', n));
  fill(t, 0x24, 0x27, (n) => hours('operating_time', n));
  fill(t, 0x28, 0x2f, (n) => descriptor('power', 'kw', n - 6));
  fill(t, 0x30, 0x37, (n) => descriptor('power', 'mjh', n - 6));
  fill(t, 0x38, 0x3f, (n) => descriptor('volume_flow', 'm3h', n - 6));
  // Physically correct factors (spec §5.5 note): m³/min × 60, m³/s × 3600.
  fill(t, 0x40, 0x47, (n) => scaled('volume_flow', 'm3h', n - 7, 60, 1));
  fill(t, 0x48, 0x4f, (n) => scaled('volume_flow', 'm3h', n - 9, 3600, 1));
  fill(t, 0x50, 0x57, (n) => descriptor('mass_flow', 'kgh', n - 3));
  fill(t, 0x58, 0x5b, (n) => descriptor('flow_temperature', 'c', n - 3));
  fill(t, 0x5c, 0x5f, (n) => descriptor('return_temperature', 'c', n - 3));
  fill(t, 0x60, 0x63, (n) => descriptor('temperature_difference', 'k', n - 3));
  fill(t, 0x64, 0x67, (n) => descriptor('external_temperature', 'c', n - 3));
  fill(t, 0x68, 0x6b, (n) => descriptor('pressure', 'bar', n - 3));
  t[0x6c] = descriptor('date', 'date', 0, 'time_point');
  t[0x6d] = descriptor('datetime', 'datetime', 0, 'time_point');
  t[0x6e] = descriptor('heat_cost_allocation', 'hca');
  fill(t, 0x70, 0x73, (n) => hours('averaging_duration', n));
  fill(t, 0x74, 0x77, (n) => hours('actuality_duration', n));
  t[0x78] = descriptor('fabrication_number', '', 0, 'digits');
  t[0x79] = descriptor('enhanced_identification', '', 0, 'digits');
  t[0x7a] = descriptor('bus_address', '', 0, 'unscaled');
  return t;
})();

/** First extension table (VIF 0xFB). */
export const FB_VIFS: readonly VifDescriptor[] = (() => {
  const t = newTable();
  fill(t, 0x00, 0x01, (n) => descriptor('energy', 'kwh', n + 2)); // 10^(n-1) MWh
  fill(t, 0x08, 0x09, (n) => descriptor('energy', 'mj', n + 2)); // 10^(n-1) GJ
  fill(t, 0x10, 0x11, (n) => descriptor('volume', 'm3', n + 2));
  fill(t, 0x18, 0x19, (n) => descriptor('mass', 'kg', n + 5)); // 10^(n+2) t
  fill(t, 0x1a, 0x1b, (n) => descriptor('relative_humidity', 'rh', n - 1));
  fill(t, 0x28, 0x29, (n) => descriptor('power', 'kw', n + 2)); // 10^(n-1) MW
  fill(t, 0x30, 0x31, (n) => descriptor('power', 'mjh', n + 2)); // 10^(n-1) GJ/h
  fill(t, 0x58, 0x5b, (n) => descriptor('flow_temperature', 'f', n - 3));
  fill(t, 0x5c, 0x5f, (n) => descriptor('return_temperature', 'f', n - 3));
  fill(t, 0x60, 0x63, (n) => descriptor('temperature_difference', 'f', n - 3));
  fill(t, 0x64, 0x67, (n) => descriptor('external_temperature', 'f', n - 3));
  fill(t, 0x70, 0x73, (n) => descriptor('temperature_limit', 'f', n - 3));
  fill(t, 0x74, 0x77, (n) => descriptor('temperature_limit', 'c', n - 3));
  fill(t, 0x78, 0x7f, (n) => descriptor('cumulative_max_power', 'kw', n - 6)); // 10^(n-3) W
  return t;
})();

/** Second extension table (VIF 0xFD). */
export const FD_VIFS: readonly VifDescriptor[] = (() => {
  const t = newTable();
  fill(t, 0x00, 0x03, (n) => descriptor('credit', '', n - 3));
  fill(t, 0x04, 0x07, (n) => descriptor('debit', '', n - 3));
  t[0x08] = descriptor('access_number', 'counter');
  t[0x09] = descriptor('medium', '', 0, 'unscaled');
  t[0x0a] = descriptor('manufacturer', '', 0, 'unscaled');
  t[0x0b] = descriptor('parameter_set_id', '', 0, 'unscaled');
  t[0x0c] = descriptor('model_version', '', 0, 'unscaled');
  t[0x0d] = descriptor('hardware_version', '', 0, 'unscaled');
  t[0x0e] = descriptor('firmware_version', '', 0, 'unscaled');
  t[0x0f] = descriptor('software_version', '', 0, 'unscaled');
  t[0x10] = descriptor('customer_location', '', 0, 'digits');
  t[0x11] = descriptor('customer', '', 0, 'digits');
  t[0x12] = descriptor('access_code_user', '', 0, 'unscaled');
  t[0x13] = descriptor('access_code_operator', '', 0, 'unscaled');
  t[0x14] = descriptor('access_code_system_operator', '', 0, 'unscaled');
  t[0x15] = descriptor('access_code_developer', '', 0, 'unscaled');
  t[0x16] = descriptor('password', '', 0, 'unscaled');
  t[0x17] = descriptor('error_flags', '', 0, 'unscaled');
  t[0x18] = descriptor('error_mask', '', 0, 'unscaled');
  t[0x1a] = descriptor('digital_output', '', 0, 'unscaled');
  t[0x1b] = descriptor('digital_input', '', 0, 'unscaled');
  t[0x1c] = descriptor('baud_rate', '', 0, 'unscaled');
  t[0x1d] = descriptor('response_delay_time', '', 0, 'unscaled');
  t[0x1e] = descriptor('retry', 'counter');
  t[0x1f] = descriptor('remote_control', '', 0, 'unscaled');
  t[0x20] = descriptor('first_storage_number', '', 0, 'unscaled');
  t[0x21] = descriptor('last_storage_number', '', 0, 'unscaled');
  t[0x22] = descriptor('storage_block_size', '', 0, 'unscaled');
  t[0x23] = descriptor('tariff_subunit_descriptor', '', 0, 'unscaled');
  fill(t, 0x24, 0x27, (n) => hours('storage_interval', n));
  t[0x28] = descriptor('storage_interval', 'month');
  t[0x29] = descriptor('storage_interval', 'y');
  t[0x2a] = descriptor('operator_specific_data', '', 0, 'unscaled');
  t[0x2b] = descriptor('time_point_second', 's');
  fill(t, 0x2c, 0x2f, (n) => hours('duration_since_readout', n));
  t[0x30] = descriptor('tariff_start', 'datetime', 0, 'time_point');
  fill(t, 0x31, 0x33, (n) => hours('tariff_duration', n + 1));
  fill(t, 0x34, 0x37, (n) => hours('tariff_period', n));
  t[0x38] = descriptor('tariff_period', 'month');
  t[0x39] = descriptor('tariff_period', 'y');
  t[0x3a] = descriptor('dimensionless', '');
  t[0x3b] = descriptor('data_container', '', 0, 'unscaled');
  fill(t, 0x40, 0x4f, (n) => descriptor('voltage', 'v', n - 9));
  fill(t, 0x50, 0x5f, (n) => descriptor('current', 'a', n - 12));
  t[0x60] = descriptor('reset_counter', 'counter');
  t[0x61] = descriptor('cumulation_counter', 'counter');
  t[0x62] = descriptor('control_signal', '', 0, 'unscaled');
  t[0x63] = descriptor('day_of_week', '', 0, 'unscaled');
  t[0x64] = descriptor('week_number', '', 0, 'unscaled');
  t[0x65] = descriptor('time_point_of_day_change', '', 0, 'unscaled');
  t[0x66] = descriptor('parameter_activation_state', '', 0, 'unscaled');
  t[0x67] = descriptor('special_supplier_information', '', 0, 'unscaled');
  t[0x68] = hours('duration_since_last_cumulation', 2);
  t[0x69] = hours('duration_since_last_cumulation', 3);
  t[0x6a] = descriptor('duration_since_last_cumulation', 'month');
  t[0x6b] = descriptor('duration_since_last_cumulation', 'y');
  t[0x6c] = hours('battery_operating_time', 2);
  t[0x6d] = hours('battery_operating_time', 3);
  t[0x6e] = descriptor('battery_operating_time', 'month');
  t[0x6f] = descriptor('battery_operating_time', 'y');
  t[0x70] = descriptor('battery_change', 'datetime', 0, 'time_point');
  t[0x71] = descriptor('rf_level', 'dbm');
  t[0x72] = descriptor('daylight_saving', '', 0, 'unscaled');
  t[0x73] = descriptor('listening_window_management', '', 0, 'unscaled');
  t[0x74] = descriptor('remaining_battery_life', 'd');
  t[0x75] = descriptor('meter_stopped_count', 'counter');
  t[0x76] = descriptor('manufacturer_data_container', '', 0, 'unscaled');
  return t;
})();

/**
 * Third extension table (VIF 0xEF). EN 13757-3:2018 leaves it reserved; records are still parsed
 * (unscaled) so that the rest of the telegram is not lost.
 */
export const EF_VIFS: readonly VifDescriptor[] = newTable();

export const MANUFACTURER_VIF = descriptor('manufacturer_specific', '', 0, 'unscaled');
export const ANY_VIF = descriptor('any', '', 0, 'unscaled');
/** Plain-text VIF: the unit is the ASCII string carried in the header; the value stays unscaled. */
export const PLAIN_TEXT_VIF = descriptor('plain_text_unit', '', 0, 'unscaled');
export const MANUFACTURER_TAIL = descriptor('manufacturer_specific', '', 0, 'unscaled');
/** Selector bytes (extension bit cleared) of the primary VIF. */
export const VIF_THIRD_EXTENSION = 0x6f;
export const VIF_FIRST_EXTENSION = 0x7b;
export const VIF_PLAIN_TEXT = 0x7c;
export const VIF_SECOND_EXTENSION = 0x7d;
export const VIF_ANY = 0x7e;
export const VIF_MANUFACTURER = 0x7f;
