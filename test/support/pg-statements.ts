/**
 * Reads the PostgreSQL frontend protocol a client sends (what test/support/tcp-proxy.ts sees) and finds the
 * statements in it: each simple Query ('Q') and each extended-protocol Parse ('P') is one statement. Messages may
 * be split across chunks or share one; the startup packet (and an SSLRequest before it) carries no type byte.
 */
export class StatementReader {
  private buffer = Buffer.alloc(0)
  private started = false

  /** The statements whose message is complete once `chunk` is added, in order. */
  push(chunk: Buffer): string[] {
    this.buffer = Buffer.concat([this.buffer, chunk])
    const statements: string[] = []
    for (;;) {
      if (!this.started) {
        if (this.buffer.length < 8) break
        const length = this.buffer.readInt32BE(0)
        if (this.buffer.length < length) break
        const code = this.buffer.readInt32BE(4)
        // SSLRequest and GSSENCRequest come before the startup packet, which has no type byte either.
        if (code !== 80877103 && code !== 80877104) this.started = true
        this.buffer = this.buffer.subarray(length)
        continue
      }
      if (this.buffer.length < 5) break
      const type = String.fromCharCode(this.buffer[0]!)
      const end = 1 + this.buffer.readInt32BE(1)
      if (this.buffer.length < end) break
      const body = this.buffer.subarray(5, end)
      if (type === 'Q') statements.push(cString(body, 0).text)
      else if (type === 'P') statements.push(cString(body, cString(body, 0).next).text)
      this.buffer = this.buffer.subarray(end)
    }
    return statements
  }
}

function cString(body: Buffer, start: number): { text: string; next: number } {
  const zero = body.indexOf(0, start)
  const stop = zero === -1 ? body.length : zero
  return { text: body.subarray(start, stop).toString('utf8'), next: stop + 1 }
}
