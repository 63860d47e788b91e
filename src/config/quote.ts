/** A non-secret value for a message: safe to echo, but capped so that one bad value cannot flood the message. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
}
