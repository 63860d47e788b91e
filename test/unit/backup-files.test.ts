import { describe, expect, test } from 'vitest'
import {
  backupFileName,
  backupsAmong,
  backupTimestamp,
  expiredBackups,
  manifestFileName,
  newestFinishedBackup,
  newestGoodBackup,
  parseBackupTimestamp,
  parseSidecar,
} from '../../src/backup/backup-files.ts'

const at = (iso: string) => new Date(iso)

describe('backup file names', () => {
  test('a backup is named after its database and the UTC second it started', () => {
    expect(backupFileName('dex', at('2026-11-23T02:30:00.789Z'))).toBe('dex-20261123T023000Z.dump')
    expect(backupTimestamp(at('2026-01-02T03:04:05Z'))).toBe('20260102T030405Z')
  })

  test('timestamps parse back, and anything else is not a timestamp', () => {
    expect(parseBackupTimestamp('20261123T023000Z')?.toISOString()).toBe('2026-11-23T02:30:00.000Z')
    for (const bad of ['20261323T023000Z', '20261123T023000', '2026-11-23T02:30:00Z', '20260230T000000Z', '']) {
      expect(parseBackupTimestamp(bad), bad).toBeUndefined()
    }
  })

  test('only files of this database with a timestamp are backups; good ones have a sidecar and what it lists', () => {
    const names = [
      'app-20261120T020000Z.dump',
      'app-20261120T020000Z.dump.sha256',
      'app-20261120T020000Z.manifest',
      'app-20261121T020000Z.dump',
      'app-20261122T020000Z.dump',
      'app-20261122T020000Z.dump.sha256',
      'app-20261123T020000Z.dump',
      'app-20261123T020000Z.dump.sha256',
      'app_other-20261121T020000Z.dump',
      '.app-20261122T020000Z.123.partial',
      'app-notes.txt',
    ]
    // 22: a sidecar of an older dbhook, listing only the dump; 23: the sidecar lists a manifest that is gone.
    const listed: Record<string, string[]> = {
      'app-20261120T020000Z.dump': ['app-20261120T020000Z.manifest'],
      'app-20261122T020000Z.dump': [],
      'app-20261123T020000Z.dump': ['app-20261123T020000Z.manifest'],
    }
    const backups = backupsAmong('app', names, (name) => listed[name])
    expect(backups).toEqual([
      { name: 'app-20261120T020000Z.dump', takenAt: at('2026-11-20T02:00:00Z'), finished: true, good: true, manifest: true },
      { name: 'app-20261121T020000Z.dump', takenAt: at('2026-11-21T02:00:00Z'), finished: false, good: false, manifest: false },
      { name: 'app-20261122T020000Z.dump', takenAt: at('2026-11-22T02:00:00Z'), finished: true, good: true, manifest: false },
      { name: 'app-20261123T020000Z.dump', takenAt: at('2026-11-23T02:00:00Z'), finished: true, good: false, manifest: false },
    ])
    // The drill proves the newest finished backup, restore takes the newest good one.
    expect(newestFinishedBackup(backups)?.name).toBe('app-20261123T020000Z.dump')
    expect(newestGoodBackup(backups)?.name).toBe('app-20261122T020000Z.dump')
  })

  test('a manifest is named after its dump; sidecars are read in sha256sum format', () => {
    expect(manifestFileName('dex-20261123T020000Z.dump')).toBe('dex-20261123T020000Z.manifest')
    const a = 'a'.repeat(64)
    const b = 'B'.repeat(64)
    expect(parseSidecar(`${a}  dex.dump\n${b} *dex.manifest\nnot a line\n`)).toEqual([
      { digest: a, name: 'dex.dump' },
      { digest: 'b'.repeat(64), name: 'dex.manifest' },
    ])
  })
})

describe('retention', () => {
  const daily = (days: number[], bad: number[] = []) =>
    backupsAmong(
      'app',
      days.flatMap((day) => {
        const name = `app-202611${String(day).padStart(2, '0')}T020000Z.dump`
        return bad.includes(day) ? [name] : [name, `${name}.sha256`, manifestFileName(name)]
      }),
      (name) => [manifestFileName(name)],
    )
  const names = (list: { name: string }[]) => list.map((b) => b.name.slice(4, 12))

  const cases = [
    {
      name: 'keeps seven nightly backups with 7 days',
      days: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
      bad: [],
      now: '2026-11-20T02:30:00Z',
      keep: 7,
      deleted: ['20261110', '20261111', '20261112', '20261113'],
    },
    { name: 'a backup exactly keepDays old is kept', days: [13, 14], bad: [], now: '2026-11-20T02:00:00Z', keep: 7, deleted: [] },
    {
      name: 'a backup a second older than keepDays goes',
      days: [13, 14],
      bad: [],
      now: '2026-11-20T02:00:01Z',
      keep: 7,
      deleted: ['20261113'],
    },
    {
      name: 'never deletes the newest good backup, however old',
      days: [1, 2],
      bad: [],
      now: '2026-11-30T00:00:00Z',
      keep: 7,
      deleted: ['20261101'],
    },
    {
      name: 'keeps the newest good backup when newer ones are bad',
      days: [1, 2, 3],
      bad: [2, 3],
      now: '2026-11-30T00:00:00Z',
      keep: 7,
      deleted: ['20261102', '20261103'],
    },
    { name: 'deletes nothing when everything is recent', days: [18, 19, 20], bad: [19], now: '2026-11-20T03:00:00Z', keep: 7, deleted: [] },
    {
      name: 'keeps only the last night with 1 day',
      days: [18, 19, 20],
      bad: [],
      now: '2026-11-20T03:00:00Z',
      keep: 1,
      deleted: ['20261118', '20261119'],
    },
  ]
  test.each(cases)('$name', ({ days, bad, now, keep, deleted }) => {
    expect(names(expiredBackups(daily(days, bad), at(now), keep))).toEqual(deleted)
  })

  test('the newest good backup is the latest one with a sidecar', () => {
    expect(newestGoodBackup(daily([1, 2, 3], [3]))?.name).toBe('app-20261102T020000Z.dump')
    expect(newestGoodBackup(daily([1], [1]))).toBeUndefined()
  })
})
