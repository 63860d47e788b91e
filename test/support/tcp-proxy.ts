import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * What the proxy does with the next connections:
 * - `forward`: pass bytes both ways (optionally late, see `delayMs`);
 * - `refuse`: stop listening, so that connecting fails with ECONNREFUSED;
 * - `swallow`: accept the connection and never answer (a server whose TCP stack is up but which is hung).
 */
type ProxyMode = 'forward' | 'refuse' | 'swallow'

/** One accepted client connection, for figures such as how long each attempt lasted. */
interface ProxyConnection {
  readonly index: number
  readonly openedAt: number
  closedAt?: number
  /** Bytes the client sent towards the server. */
  bytesFromClient: number
}

export interface TcpProxy {
  readonly host: string
  readonly port: number
  /** Every connection the proxy accepted, in order. */
  readonly connections: readonly ProxyConnection[]
  setMode(mode: ProxyMode): Promise<void>
  /** Holds each chunk this long before passing it on, in both directions (0 = no delay). */
  delayMs: number
  /** Cuts each connection once the client has sent more than this many bytes (undefined = never). */
  cutAfterBytes: number | undefined
  /**
   * Called with each chunk the client sends, before it is passed on; returning true cuts that connection
   * (the chunk is not delivered). Used to cut exactly between two statements.
   */
  cutWhen: ((chunk: Buffer, connection: ProxyConnection) => boolean) | undefined
  /** Called with each chunk the client sends (after any cut decision), e.g. to send a signal mid-apply. */
  onClientData: ((chunk: Buffer, connection: ProxyConnection) => void) | undefined
  /** Cuts every open connection now (both sides see a reset). */
  cutAll(): void
  /**
   * The connections open now deliver nothing more in either direction (bytes already on their way still
   * arrive): a server stuck in a long statement. Connections opened later are not affected.
   */
  stallOpenConnections(): void
  /** Connections still open. */
  openCount(): number
  close(): Promise<void>
}

/**
 * A small loopback TCP proxy in front of a real server, for fault injection: refuse, delay, cut mid-stream,
 * swallow. Listens on a free 127.0.0.1 port chosen by the kernel and keeps that port across refuse periods.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  type Entry = { client: Socket; upstream?: Socket; record: ProxyConnection; stalled?: boolean }
  const open = new Set<Entry>()
  const connections: ProxyConnection[] = []
  let mode: ProxyMode = 'forward'
  let server: Server
  let port = 0

  const cut = (entry: Entry) => {
    entry.client.resetAndDestroy()
    entry.upstream?.resetAndDestroy()
  }

  const later = (fn: () => void) => {
    if (proxy.delayMs > 0) setTimeout(fn, proxy.delayMs)
    else fn()
  }

  const handle = (client: Socket) => {
    const record: ProxyConnection = { index: connections.length, openedAt: Date.now(), bytesFromClient: 0 }
    connections.push(record)
    const entry: Entry = { client, record }
    open.add(entry)
    const done = () => {
      record.closedAt ??= Date.now()
      open.delete(entry)
    }
    client.on('error', () => undefined)
    client.on('close', () => {
      done()
      entry.upstream?.destroy()
    })
    if (mode === 'swallow') {
      client.on('data', (chunk: Buffer) => (record.bytesFromClient += chunk.length))
      return
    }
    const upstream = connect(target.port, target.host)
    entry.upstream = upstream
    upstream.on('error', () => client.destroy())
    upstream.on('close', () => later(() => client.destroy()))
    upstream.on('data', (chunk: Buffer) => later(() => !entry.stalled && client.writable && client.write(chunk)))
    client.on('data', (chunk: Buffer) => {
      record.bytesFromClient += chunk.length
      if (entry.stalled) return
      if (proxy.cutWhen?.(chunk, record) || (proxy.cutAfterBytes !== undefined && record.bytesFromClient > proxy.cutAfterBytes)) {
        cut(entry)
        return
      }
      proxy.onClientData?.(chunk, record)
      later(() => upstream.writable && upstream.write(chunk))
    })
    client.on('end', () => later(() => upstream.end()))
  }

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer(handle)
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        listening = true
        const address = server.address()
        if (typeof address === 'object' && address) port = address.port
        resolve()
      })
    })
  // The listening socket closes at once; connections already accepted live on until cut or closed.
  let listening = true
  const stopListening = async () => {
    if (listening) server.close()
    listening = false
  }

  await listen()

  const proxy: TcpProxy = {
    host: '127.0.0.1',
    get port() {
      return port
    },
    connections,
    delayMs: 0,
    cutAfterBytes: undefined,
    cutWhen: undefined,
    onClientData: undefined,
    async setMode(next) {
      if (next === mode) return
      const wasRefusing = mode === 'refuse'
      mode = next
      if (next === 'refuse') await stopListening()
      else if (wasRefusing) await listen()
    },
    cutAll() {
      for (const entry of open) cut(entry)
    },
    stallOpenConnections() {
      for (const entry of open) entry.stalled = true
    },
    openCount: () => open.size,
    async close() {
      for (const entry of open) cut(entry)
      await stopListening()
    },
  }
  return proxy
}
