/** Plain JSON for API responses and audit records: BigInt becomes a number, Date an ISO string. */
export function toPlain<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));
}
