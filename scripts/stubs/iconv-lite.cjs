// Stands in for iconv-lite in the bundle. mysql2 needs it only for text in charsets Node cannot decode itself.
// dbhook's connections speak utf8mb4; the one other encoding mysql2 asks for is cesu8, for MariaDB's 3-byte utf8
// (utf8mb3), which holds no character outside the BMP and so is byte for byte UTF-8. Leaving out the 480 KB of
// code tables halves the bundle that every start of dbhook parses.
const utf8Like = new Set(['cesu8', 'utf8', 'utf-8'])

function check(encoding) {
  if (!utf8Like.has(String(encoding).toLowerCase())) {
    throw new Error(`dbhook decodes only UTF-8 text (utf8mb4, utf8mb3) from MySQL/MariaDB; the server sent ${encoding}`)
  }
}

module.exports = {
  getDecoder(encoding) {
    check(encoding)
    const decoder = new (require('node:string_decoder').StringDecoder)('utf8')
    return { write: (buffer) => decoder.write(buffer), end: () => decoder.end() }
  },
  getEncoder(encoding) {
    check(encoding)
    return { write: (text) => Buffer.from(text, 'utf8'), end: () => undefined }
  },
  encodingExists: (encoding) => utf8Like.has(String(encoding).toLowerCase()),
}
