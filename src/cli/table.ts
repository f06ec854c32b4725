import chalk from 'chalk'

/** A plain aligned table with a dim header; cells never wrap. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [chalk.dim(line(headers)), ...rows.map(line)].join('\n') + '\n'
}

/** Shortens a value for a table cell. */
export function clip(text: string, max = 60): string {
  const one = text.replace(/\s+/g, ' ')
  return one.length > max ? one.slice(0, max - 1) + '…' : one
}
