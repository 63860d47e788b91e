import { quoteValue } from './quote.ts'

/** DBHOOK_EXTENSIONS: a comma list of extension names, each checked so that it can be quoted as an identifier. */
export function readExtensions(value: string, problems: string[]): string[] {
  const extensions = value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
  for (const extension of extensions) {
    if (!/^[A-Za-z0-9_-]{1,63}$/.test(extension)) {
      problems.push(`DBHOOK_EXTENSIONS: ${quoteValue(extension)} is not an extension name (letters, digits, _ and -)`)
    }
  }
  return extensions
}
