// SPDX-License-Identifier: Apache-2.0
// Portal for JavaScript: TypeScript declarations of portal.mjs.

export type ErrorCode =
  | "NO_RELAY" | "NOT_FOUND" | "REJECTED" | "LEASE_GONE" | "LEASE_REFUSED" | "ALREADY_LISTENING"
  | "INVALID_NAME" | "INVALID_TARGET" | "TIMEOUT" | "CLOSED" | "AMBIGUOUS" | "HANDSHAKE_FAILED"
  | "CONNECTION_LOST" | "PROTOCOL_ERROR" | "NO_WEBSOCKET" | "INVALID_IDENTITY" | "INVALID_OPTIONS"
  | "ERROR";

export class PortalError extends Error {
  readonly code: ErrorCode;
}

export interface Timers {
  leaseTtlS?: number;
  renewIntervalMs?: number;
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  reconnectJitterPercent?: number;
  requestTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  acceptQueue?: number;
}

export interface ConnectOptions {
  /** Relay URLs, e.g. "ws://127.0.0.1:4017/relay". */
  relays: string[];
  /** A 32-byte Ed25519 seed; default: a fresh identity. */
  identity?: Uint8Array;
  /** A WebSocket constructor, when there is no global one (Node < 22: the `ws` package's). */
  WebSocket?: unknown;
  timers?: Timers;
  /** Log lines of the engine: level 0 debug .. 3 error. */
  onLog?: (level: number, line: string) => void;
}

export interface RelayStatus { url: string; up: boolean; id: string; error: string; }

export interface Connection {
  readonly peerId: string;
  readonly alpn: string;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  close(): void;
}

export interface Listener extends AsyncIterableIterator<Connection> {
  accept(): Promise<Connection | null>;
  close(): Promise<void>;
}

export interface Client {
  readonly id: string;
  relays(): RelayStatus[];
  /** freshIdentity: the handshake uses a new identity instead of the client's. */
  dial(target: string, options: { alpn: string; freshIdentity?: boolean }): Promise<Connection>;
  listen(options: { name: string; alpn: string | string[]; metadata?: string }): Promise<Listener>;
  close(): Promise<void>;
}

export function connect(options: ConnectOptions): Promise<Client>;
export function generateIdentity(): Promise<{ seed: Uint8Array; id: string }>;

/** Where the .wasm is, when not next to portal.mjs. Call before the first connect(). */
export function configure(options: { wasmUrl?: string }): void;
