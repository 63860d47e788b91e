const maxDatabaseChars = 64
const maxUserChars = 32
/** NAME_MAX of the file systems MySQL and MariaDB keep a database's directory on. */
const maxDirectoryBytes = 255
const systemDatabases = new Set(['mysql', 'information_schema', 'performance_schema', 'sys'])

/** Identifiers hold the Basic Multilingual Plane only (MySQL stores them as utf8mb3). */
const outsideBmp = /[\u{10000}-\u{10FFFF}]/u

/**
 * Code points the server spells in file names with 3 bytes ('@' and 2 characters): letters of Latin, Greek,
 * Cyrillic, Armenian and a few more. Read off MariaDB 10.11 by creating a database for each code point of
 * U+0080-U+06FF, U+1E00-U+24FF and U+FF00-U+FFEF and measuring its directory name; the rest take 5 bytes.
 */
const threeByteRanges: readonly (readonly [number, number])[] = [
  [0xc0, 0xd6],
  [0xd8, 0xf6],
  [0xf8, 0x12f],
  [0x131, 0x1be],
  [0x1c4, 0x1c4],
  [0x1c6, 0x1c7],
  [0x1c9, 0x1ca],
  [0x1cc, 0x1f1],
  [0x1f3, 0x1f6],
  [0x1f8, 0x241],
  [0x250, 0x2af],
  [0x386, 0x386],
  [0x388, 0x38a],
  [0x38c, 0x38c],
  [0x38e, 0x3a1],
  [0x3a3, 0x3ce],
  [0x3d0, 0x3d7],
  [0x3d9, 0x3f3],
  [0x3f5, 0x3f6],
  [0x3f8, 0x3f8],
  [0x3fb, 0x481],
  [0x48a, 0x4ce],
  [0x4d0, 0x4f9],
  [0x500, 0x50f],
  [0x531, 0x555],
  [0x561, 0x585],
  [0x1e00, 0x1e9b],
  [0x1ea0, 0x1ef9],
  [0x1f00, 0x1f15],
  [0x1f18, 0x1f1d],
  [0x1f20, 0x1f45],
  [0x1f48, 0x1f4d],
  [0x1f50, 0x1f57],
  [0x1f59, 0x1f59],
  [0x1f5b, 0x1f5b],
  [0x1f5d, 0x1f5d],
  [0x1f5f, 0x1f7d],
  [0x1f80, 0x1fb4],
  [0x1fb6, 0x1fbc],
  [0x1fc2, 0x1fc4],
  [0x1fc6, 0x1fcc],
  [0x1fd0, 0x1fd3],
  [0x1fd6, 0x1fdb],
  [0x1fe0, 0x1fec],
  [0x1ff2, 0x1ff3],
  [0x1ff6, 0x1ffc],
  [0x2160, 0x217f],
  [0x24b6, 0x24e9],
  [0xff21, 0xff3a],
  [0xff41, 0xff5a],
]

function fileNameBytes(char: string): number {
  if (/[0-9A-Za-z_]/.test(char)) return 1
  const codePoint = char.codePointAt(0) ?? 0
  return threeByteRanges.some(([first, last]) => codePoint >= first && codePoint <= last) ? 3 : 5
}

/** The bytes the database's directory name takes: the server spells each character other than [0-9A-Za-z_] with '@' and 2 or 4 more. */
function directoryBytes(name: string): number {
  let bytes = 0
  for (const char of name) bytes += fileNameBytes(char)
  return bytes
}

/** Why `name` cannot be a database dbhook provisions on MySQL/MariaDB, or undefined when it can. */
export function mysqlDatabaseNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name.includes('\0')) return 'contains a NUL character'
  if (outsideBmp.test(name))
    return 'contains a character outside the Basic Multilingual Plane (such as an emoji), which MySQL names cannot hold'
  const chars = [...name].length
  if (chars > maxDatabaseChars) return `is ${chars} characters long; MySQL allows ${maxDatabaseChars}`
  if (/\s$/u.test(name)) return 'ends with white space, which MySQL does not allow in a database name'
  const bytes = directoryBytes(name)
  if (bytes > maxDirectoryBytes) {
    return `would need a ${bytes}-byte directory name (the server spells each character other than A-Z, a-z, 0-9 and _ with 3 or 5 bytes), over the ${maxDirectoryBytes} a file system allows; use a shorter name`
  }
  if (systemDatabases.has(name.toLowerCase())) return 'is a system database dbhook never provisions'
  return undefined
}

/** Why `name` cannot be a user dbhook creates or grants to on MySQL/MariaDB, or undefined when it can. */
export function mysqlUserNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name.includes('\0')) return 'contains a NUL character'
  if (outsideBmp.test(name))
    return 'contains a character outside the Basic Multilingual Plane (such as an emoji), which MySQL names cannot hold'
  const chars = [...name].length
  if (chars > maxUserChars) return `is ${chars} characters long; MySQL allows ${maxUserChars}`
  // User names are compared with trailing spaces removed, so 'app ' would silently become 'app'.
  if (/\s$/u.test(name)) return 'ends with white space, which MySQL would drop from a user name'
  return undefined
}
