import { DbhookError, ExitCode } from '../../errors.ts'
import type { EngineAdapter } from '../engine.ts'

const notYet = () => new DbhookError('DBHOOK_ENGINE=mysql is not available in this build yet', ExitCode.config)

export const mysqlAdapter: EngineAdapter = {
  label: 'MySQL/MariaDB',
  hasDatabaseOwner: false,
  databaseItems: () => [],
  connectAdmin: async () => {
    throw notYet()
  },
  verify: async () => {
    throw notYet()
  },
  script: () => {
    throw notYet()
  },
}
