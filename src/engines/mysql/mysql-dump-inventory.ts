import { Transform, type TransformCallback } from 'node:stream'
import type { Inventory } from '../../backup/backup-manifest.ts'

const newline = 0x0a
const quote = 0x27
const backslash = 0x5c
const open = 0x28
const close = 0x29
const semicolon = 0x3b

/** Longest start of a line kept to recognise it; longer lines are INSERTs (counted byte by byte) or skipped. */
const headBytes = 4096

/**
 * Reads a mariadb-dump/mysqldump dump as it streams past and takes its inventory from the dump itself: one row per
 * tuple of its `INSERT INTO … VALUES (…),(…);` statements, the tables, views and sequences its `-- … structure
 * for …` headers announce, the routines and triggers of its `DELIMITER ;;` blocks. mariadb-dump runs its own
 * session (START TRANSACTION WITH CONSISTENT SNAPSHOT), which no other session can share; counting what it wrote
 * is exact by construction, whatever the application wrote meanwhile.
 *
 * The dump escapes every string mariadb-dump writes (a quote as \', a newline as \n), so a line break is never
 * inside a value, and a statement starts at the start of a line. Routine bodies, the only text not written by
 * mariadb-dump itself, stay inside their DELIMITER blocks and are never read as statements.
 */
export class MysqlDumpInventory extends Transform {
  private head: Buffer[] = []
  private headLength = 0
  private mode: 'line' | 'insert' | 'skip' = 'line'
  private table = ''
  private depth = 0
  private inString = false
  private escaped = false
  private inBlock = false
  private blockHeader = false
  private readonly tables = new Map<string, number>()
  private readonly objects = new Set<string>()

  /** The inventory; valid once the stream has ended without error. */
  inventory(): Inventory {
    return { tables: new Map(this.tables), objects: new Set(this.objects), sequences: new Map() }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.scan(chunk)
      callback(null, chunk)
    } catch (error) {
      callback(error as Error)
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.mode === 'line' && this.headLength > 0) this.classify(true)
    if (this.mode === 'insert') callback(new Error(`the dump ends inside the INSERT statement of table ${this.table}`))
    else if (this.inBlock) callback(new Error('the dump ends inside a DELIMITER block'))
    else callback()
  }

  private scan(chunk: Buffer): void {
    let i = 0
    while (i < chunk.length) {
      if (this.mode === 'insert') {
        this.insertByte(chunk[i]!)
        i += 1
        continue
      }
      const nl = chunk.indexOf(newline, i)
      if (this.mode === 'skip') {
        if (nl < 0) return
        this.mode = 'line'
        i = nl + 1
        continue
      }
      const end = nl < 0 ? chunk.length : nl
      const room = headBytes - this.headLength
      if (end - i < room) {
        this.keep(chunk.subarray(i, end))
        if (nl < 0) return
        this.classify(true)
        // A statement that ended on this line ends with it; an INSERT whose tuples follow on the next lines goes on.
        if ((this.mode as string) === 'skip') this.mode = 'line'
        i = nl + 1
      } else {
        // A long line: an INSERT is counted on from here, anything else is skipped to its end.
        this.keep(chunk.subarray(i, i + room))
        i += room
        this.classify(false)
        if ((this.mode as string) === 'line') this.mode = 'skip'
      }
    }
  }

  private keep(bytes: Buffer): void {
    if (bytes.length === 0) return
    this.head.push(bytes)
    this.headLength += bytes.length
  }

  private insertByte(byte: number): void {
    if (this.inString) {
      if (this.escaped) this.escaped = false
      else if (byte === backslash) this.escaped = true
      else if (byte === quote) this.inString = false
    } else if (byte === quote) {
      this.inString = true
    } else if (byte === open) {
      if (this.depth === 0) this.tables.set(this.table, (this.tables.get(this.table) ?? 0) + 1)
      this.depth += 1
    } else if (byte === close) {
      this.depth -= 1
    } else if (byte === semicolon && this.depth === 0) {
      this.mode = 'skip'
    }
  }

  /** Recognises the line (or the start of it) held in `head`; `complete`: the whole line is there. */
  private classify(complete: boolean): void {
    const line = Buffer.concat(this.head).toString('utf8')
    this.head = []
    this.headLength = 0
    const text = line.endsWith('\r') ? line.slice(0, -1) : line
    if (this.inBlock) {
      if (text === 'DELIMITER ;') {
        this.inBlock = false
      } else if (this.blockHeader) {
        this.blockHeader = false
        const routine = /^(?:CREATE\b|\/\*!50003 CREATE\*\/).*?\b(FUNCTION|PROCEDURE)\s+`((?:[^`]|``)+)`/.exec(text)
        const trigger = /\/\*!50003 TRIGGER\s+((?:`(?:[^`]|``)+`|[^\s.`]+)(?:\.(?:`(?:[^`]|``)+`|[^\s.`]+))?)/.exec(text)
        if (routine) this.objects.add(`${routine[1]!.toLowerCase()} ${unquote(routine[2]!)}`)
        else if (trigger) this.objects.add(`trigger ${lastPart(trigger[1]!)}`)
      }
      return
    }
    if (text === 'DELIMITER ;;') {
      this.inBlock = true
      this.blockHeader = true
      return
    }
    const insert = /^INSERT INTO `((?:[^`]|``)+)` VALUES/.exec(text)
    if (insert) {
      this.table = unquote(insert[1]!)
      this.tables.set(this.table, this.tables.get(this.table) ?? 0)
      this.mode = 'insert'
      this.depth = 0
      this.inString = false
      this.escaped = false
      for (const byte of Buffer.from(text.slice(insert[0].length), 'utf8')) this.insertByte(byte)
      return
    }
    if (!complete) return
    const header = /^-- (?:Table structure for table|Final view structure for view|Sequence structure for) `((?:[^`]|``)+)`$/.exec(text)
    if (!header) return
    const name = unquote(header[1]!)
    if (text.startsWith('-- Table')) this.tables.set(name, this.tables.get(name) ?? 0)
    else this.objects.add(`${text.startsWith('-- Final') ? 'view' : 'sequence'} ${name}`)
  }
}

function unquote(quoted: string): string {
  return quoted.replace(/``/g, '`')
}

/** `name`, `` `name` ``, `db.name`, `` `db`.`name` ``: the name. */
function lastPart(qualified: string): string {
  const parts = qualified.match(/`(?:[^`]|``)+`|[^.`]+/g) ?? [qualified]
  const last = parts.at(-1)!
  return last.startsWith('`') ? unquote(last.slice(1, -1)) : last
}
