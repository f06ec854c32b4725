/**
 * Ledger values are JSON text. For people, a JSON string is shown as its
 * content and anything else pretty-printed; scripts get the parsed value.
 */
export function parseData(dataText: string): unknown {
  try {
    return JSON.parse(dataText)
  } catch {
    return dataText
  }
}

export function showData(dataText: string, pretty = true): string {
  const v = parseData(dataText)
  if (typeof v === 'string') return v
  return pretty ? JSON.stringify(v, null, 2) : JSON.stringify(v)
}
