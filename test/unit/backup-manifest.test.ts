import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { describe, expect, test } from 'vitest'
import { formatAge, formatBytes, formatCount, formatDuration, formatInstant } from '../../src/backup/backup-figures.ts'
import { compareWithManifest, parseManifest, serializeManifest, type Inventory, type Manifest } from '../../src/backup/backup-manifest.ts'
import { MysqlDumpInventory } from '../../src/engines/mysql/mysql-dump-inventory.ts'
import { filterList, toolMajor, withoutTransactionTimeout } from '../../src/engines/postgres/postgres-backup.ts'

const inventory = (tables: [string, number][], objects: string[] = [], sequences: [string, string, boolean, string][] = []): Inventory => ({
  tables: new Map(tables),
  objects: new Set(objects),
  sequences: new Map(sequences.map(([name, lastValue, isCalled, increment]) => [name, { lastValue, isCalled, increment }])),
})

describe('the manifest', () => {
  const recorded = inventory(
    [
      ['public.items', 120],
      ['app.notes', 2],
    ],
    ['schema app', 'view public.v', 'function public.f(integer)', 'extension pg_trgm'],
    [
      ['public.items_id_seq', '120', true, '1'],
      ['public.down', '-5', true, '-1'],
    ],
  )

  test('round-trips through its file format, big sequence values included', () => {
    const big = inventory([['t', 0]], [], [['s', '9223372036854775806', false, '1']])
    const manifest: Manifest = {
      database: 'shop',
      server: 'PostgreSQL 16',
      snapshotAt: new Date('2026-12-01T02:00:00.123Z'),
      method: 'snapshot',
      inventory: big,
    }
    const back = parseManifest(serializeManifest(manifest))
    expect(back).toEqual(manifest)
    expect(parseManifest(serializeManifest({ ...manifest, inventory: recorded })).inventory).toEqual(recorded)
  })

  test.each([
    ['not JSON', 'x'],
    ['another format', '{"format":"x","version":1}'],
    [
      'a count that is not one',
      '{"format":"dbhook-backup-manifest","version":1,"database":"d","server":"s","snapshotAt":"2026-01-01T00:00:00Z","method":"dump","tables":[{"name":"t","rows":-1}],"objects":[],"sequences":[]}',
    ],
  ])('refuses %s', (_name, text) => {
    expect(() => parseManifest(Buffer.from(text))).toThrow()
  })

  test('a restore that holds what the manifest recorded matches; sequences may be further on', () => {
    expect(compareWithManifest(recorded, recorded)).toEqual([])
    const further = inventory(
      [...recorded.tables],
      [...recorded.objects],
      [
        ['public.items_id_seq', '131', true, '1'],
        ['public.down', '-9', true, '-1'],
      ],
    )
    expect(compareWithManifest(recorded, further)).toEqual([])
  })

  test('every difference is named: tables, counts, objects, sequences', () => {
    const restored = inventory(
      [
        ['public.items', 119],
        ['public.extra', 1],
      ],
      ['schema app', 'view public.v', 'extension pg_trgm', 'function public.g()'],
      [
        ['public.items_id_seq', '100', true, '1'],
        ['public.down', '-5', false, '-1'],
      ],
    )
    expect(compareWithManifest(recorded, restored)).toEqual([
      'table public.items has 119 rows, the manifest 120',
      'table app.notes is missing',
      'table public.extra is not in the manifest',
      'function public.f(integer) is missing',
      'function public.g() is not in the manifest',
      'sequence public.items_id_seq is at 100, behind the 120 the manifest recorded',
      'sequence public.down is at -5 (not yet called), behind the -5 the manifest recorded',
    ])
    expect(compareWithManifest(recorded, inventory([...recorded.tables], [...recorded.objects]))).toEqual([
      'sequence public.items_id_seq is missing',
      'sequence public.down is missing',
    ])
  })
})

describe('the drill figures', () => {
  test('are written for a person', () => {
    expect(formatCount(1203441)).toBe('1,203,441')
    expect(formatAge(26 * 3_600_000 + 5 * 60_000)).toBe('26 h')
    expect(formatAge(12 * 60_000)).toBe('12 min')
    expect(formatAge(9 * 86_400_000)).toBe('9 d')
    expect(formatDuration(41_200)).toBe('41 s')
    expect(formatDuration(400)).toBe('0.4 s')
    expect(formatDuration(725_000)).toBe('12 min 5 s')
    expect(formatBytes(812)).toBe('812 B')
    expect(formatBytes(50_541_363)).toBe('48.2 MiB')
    expect(formatInstant(new Date('2026-12-01T02:00:00.789Z'))).toBe('2026-12-01T02:00:00Z')
  })
})

/** Runs `dump` through the counter in chunks of `size` bytes. */
async function counted(dump: string, size: number): Promise<Inventory> {
  const counter = new MysqlDumpInventory()
  const bytes = Buffer.from(dump)
  const chunks: Buffer[] = []
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size))
  await pipeline(Readable.from(chunks), counter, new Writable({ write: (_c, _e, cb) => cb() }))
  return counter.inventory()
}

describe('counting a MariaDB dump', () => {
  // What mariadb-dump 10.11 writes (trimmed): tuples on lines of their own, strings that hold quotes, parentheses,
  // semicolons and escaped newlines, a routine whose body looks like an INSERT, a trigger, a view, a sequence.
  const dump = [
    '/*M!999999\\- enable the sandbox mode */ ',
    '-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)',
    '--',
    '-- Sequence structure for `sq`',
    '--',
    'CREATE SEQUENCE `sq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;',
    '--',
    '-- Table structure for table `empty`',
    '--',
    'CREATE TABLE `empty` (',
    '  `x` int(11) DEFAULT NULL',
    ') ENGINE=InnoDB;',
    'DELIMITER ;;',
    '/*!50003 CREATE*/ /*!50017 DEFINER=`a`@`127.0.0.1`*/ /*!50003 TRIGGER shop.t BEFORE INSERT ON shop.empty FOR EACH ROW SET NEW.x = NEW.x ',
    '*/;;',
    'DELIMITER ;',
    '--',
    '-- Table structure for table `it``ems`',
    '--',
    'CREATE TABLE `it``ems` (',
    '  `id` int(11) NOT NULL AUTO_INCREMENT',
    ');',
    'LOCK TABLES `it``ems` WRITE;',
    'INSERT INTO `it``ems` VALUES',
    "(1,'a\\'b),(c',0x00FF),",
    "(2,'line\\nbreak\\\\',NULL),",
    "(3,')(;',''),",
    '(4,NULL,NULL);',
    "INSERT INTO `it``ems` VALUES (5,'x'),(6,'y;(');",
    'UNLOCK TABLES;',
    'DELIMITER ;;',
    'CREATE DEFINER=`a`@`127.0.0.1` PROCEDURE `p`()',
    'INSERT INTO `it``ems` VALUES (99,NULL)',
    ';;',
    'DELIMITER ;',
    'DELIMITER ;;',
    'CREATE DEFINER=`a`@`127.0.0.1` FUNCTION `f`(x INT) RETURNS int(11)',
    'RETURN x + 1',
    ';;',
    'DELIMITER ;',
    '--',
    '-- Final view structure for view `v`',
    '--',
    '/*!50001 VIEW `v` AS select `it``ems`.`id` AS `id` from `it``ems` */;',
    '-- Dump completed on 2026-12-02 13:11:22',
    '',
  ].join('\n')

  test.each([1, 7, 4096, 1 << 20])('rows, tables and objects come from the dump itself (chunks of %i bytes)', async (size) => {
    const found = await counted(dump, size)
    expect(Object.fromEntries(found.tables)).toEqual({ empty: 0, 'it`ems': 6 })
    expect([...found.objects].sort()).toEqual(['function f', 'procedure p', 'sequence sq', 'trigger t', 'view v'])
  })

  test('a long INSERT line (mysqldump writes tuples on one line) is counted byte by byte', async () => {
    const long = `INSERT INTO \`big\` VALUES ${Array.from({ length: 3000 }, (_, i) => `(${i},'${'z'.repeat(10)}(')`).join(',')};\n`
    const found = await counted(`-- Table structure for table \`big\`\n${long}-- Dump completed\n`, 1000)
    expect(found.tables.get('big')).toBe(3000)
  })

  test('a dump that ends inside an INSERT is refused', async () => {
    await expect(counted("INSERT INTO `t` VALUES (1,'a", 64)).rejects.toThrow('ends inside the INSERT statement of table t')
  })
})

describe('pg_restore around what a non-superuser may not restore', () => {
  test('comments on extensions and event triggers are left out of the list', () => {
    const lines = [
      '; Archive',
      '2; 3079 16389 EXTENSION - pg_trgm ',
      '3328; 0 0 COMMENT - EXTENSION pg_trgm ',
      '3500; 3466 16500 EVENT TRIGGER - guard postgres',
      '218; 1259 16472 TABLE public items own',
    ]
    expect(filterList(lines)).toEqual({ kept: [lines[0], lines[1], lines[4]], left: [lines[2], lines[3]] })
  })

  test('the script loses the SET transaction_timeout of its preamble only', async () => {
    const script =
      'SET statement_timeout = 0;\nSET transaction_timeout = 0;\nSET lock_timeout = 0;\n\n--\n-- Name: t; Type: TABLE\n--\nCOPY t FROM stdin;\nSET transaction_timeout = 0;\n\\.\n'
    const out: Buffer[] = []
    const bytes = Buffer.from(script)
    await pipeline(
      Readable.from([bytes.subarray(0, 30), bytes.subarray(30)]),
      withoutTransactionTimeout(),
      new Writable({
        write: (c: Buffer, _e, cb) => {
          out.push(c)
          cb()
        },
      }),
    )
    expect(Buffer.concat(out).toString()).toBe(script.replace('SET transaction_timeout = 0;\n', ''))
  })

  test('tool versions are read from --version', () => {
    expect(toolMajor('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)')).toBe(15)
    expect(toolMajor('pg_dump (PostgreSQL) 18.6')).toBe(18)
    expect(toolMajor('pg_dump (PostgreSQL) 9.6.24')).toBe(9.6)
    expect(toolMajor('nonsense')).toBeUndefined()
  })
})
