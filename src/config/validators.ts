import { makeValidator } from 'envalid'
import { parseDuration } from './duration.ts'
import { quoteValue } from './quote.ts'

// envalid's own validators accept other sets than the ones documented here (bool is case-sensitive and takes t/f,
// num is parseFloat and takes "4abc"), and their messages neither name the accepted values nor cap long ones;
// these keep the documented sets and messages. Only used for variables that hold no secret.

/** One of the words in `table` (keys, compared trimmed and without case), read as its value. */
export function choice<T extends string>(what: string, table: Record<string, T>) {
  return makeValidator<T>((input) => {
    const value = table[input.trim().toLowerCase()]
    if (value === undefined) throw new Error(`must be ${what}, got ${quoteValue(input)}`)
    return value
  })
}

/** `30`, `90s`, `5m`, `1500ms`, `1h`, read as milliseconds; zero is refused. */
export const duration = makeValidator<number>((input) => {
  const ms = parseDuration(input)
  if (ms === undefined || ms <= 0) throw new Error(`must be a positive duration such as 30, 90s or 5m, got ${quoteValue(input)}`)
  return ms
})

/** A whole number from 1 to `max`, digits only. */
export function countUpTo(max: number) {
  return makeValidator<number>((input) => {
    const value = Number(input.trim())
    if (!/^\d+$/.test(input.trim()) || value < 1 || value > max) {
      throw new Error(`must be a whole number from 1 to ${max}, got ${quoteValue(input)}`)
    }
    return value
  })
}

/** A role's CONNECTION LIMIT: a whole number up to 1,000,000, or -1 for none. */
export const connectionLimit = makeValidator<number>((input) => {
  const value = Number(input.trim())
  if (!/^-?\d+$/.test(input.trim()) || value < -1 || value > 1_000_000) {
    throw new Error(`must be a whole number, -1 for no limit, got ${quoteValue(input)}`)
  }
  return value
})

/** true/false, also yes/no, on/off and 1/0, without case. */
export const flag = makeValidator<boolean>((input) => {
  const value = input.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(value)) return true
  if (['false', '0', 'no', 'off'].includes(value)) return false
  throw new Error(`must be true or false, got ${quoteValue(input)}`)
})
