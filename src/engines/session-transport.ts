import type { TLSSocket } from 'node:tls'

/** What a session's transport turned out to be, for the log line after connecting. */
export interface SessionTransport {
  readonly encrypted: boolean
  /** `TLSv1.3`, or undefined for plaintext. */
  readonly protocol?: string
  /** The server's certificate chain was verified against DBHOOK_SSLROOTCERT (or the trusted roots). */
  readonly serverVerified: boolean
}

/** The TLS version the socket negotiated, or undefined for plaintext (or a socket that cannot tell). */
export function tlsProtocol(encrypted: boolean, socket: Partial<TLSSocket> | undefined): string | undefined {
  return encrypted && typeof socket?.getProtocol === 'function' ? (socket.getProtocol() ?? undefined) : undefined
}
