/**
 * Every error tidelog throws is a TidelogError with a stable string `code`.
 * The native addon throws the same classes: src/native.ts hands it
 * `errorFromNative` at load time, and a test checks that the native list of
 * codes (native/core/status.h) and `ERROR_CODES` below agree.
 */

export const ERROR_CODES = [
  'OK',
  'IO_ERROR',
  'DISK_FULL',
  'CORRUPT_RECORD',
  'INVALID_ARGUMENT',
  'INVALID_BATCH',
  'BATCH_TOO_LARGE',
  'OFFSET_OUT_OF_RANGE',
  'LOG_LOCKED',
  'LOG_CLOSED',
  'READ_ONLY',
] as const;

/** Codes of the store and the producer (their classes are in src/store-errors.ts). */
export const STORE_ERROR_CODES = [
  'UNKNOWN_TOPIC',
  'TOPIC_EXISTS',
  'CONFLICT',
  'OUT_OF_ORDER_SEQUENCE',
  'PRODUCER_FENCED',
  'BUFFER_FULL',
  'PRODUCER_CLOSED',
  'STORE_CLOSED',
  'CORRUPT_METADATA',
] as const;

/** Codes raised only by the TypeScript layer: the log's and the codec's, then the store's and the producer's. */
export const TS_ERROR_CODES = ['RECORD_TOO_LARGE', 'UNSUPPORTED_COMPRESSION', 'INVALID_STATE', ...STORE_ERROR_CODES] as const;

/** Every stable code a TidelogError can carry. */
export type ErrorCode = (typeof ERROR_CODES)[number] | (typeof TS_ERROR_CODES)[number];

export interface TidelogErrorOptions {
  cause?: unknown;
  retriable?: boolean;
}

export class TidelogError extends Error {
  readonly code: ErrorCode;
  /** True when the same call may succeed later without any change by the caller. */
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: TidelogErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.name = new.target.name;
  }
}

/** An argument or option was wrong: its type, its range or its name. */
export class InvalidArgumentError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** An I/O call failed for a reason other than a full disk. */
export class IoError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('IO_ERROR', message, options);
  }
}

/** The file system is full. Nothing of the failing append was written; retry after freeing space. */
export class DiskFullError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('DISK_FULL', message, { retriable: true, ...options });
  }
}

/** Where a corruption on disk is: set when the log's files are concerned (not for bytes given to a decoder). */
export interface CorruptionSite {
  /** The damaged file. */
  file: string;
  /** Byte position in that file of the damaged batch (or of the first unreadable byte), or -1. */
  position: number;
  /** The first record offset concerned, or -1 when unknown. */
  offset: number;
}

export interface CorruptRecordErrorOptions extends TidelogErrorOptions {
  where?: CorruptionSite;
}

/**
 * Bytes on disk failed their CRC or framing check (or bytes given to a decoder
 * are malformed). Nothing of the damaged batch is returned as data; `file`,
 * `position` and `offset` say where it is when the log's files are concerned.
 */
export class CorruptRecordError extends TidelogError {
  readonly file: string | undefined;
  readonly position: number | undefined;
  readonly offset: number | undefined;

  constructor(message: string, options: CorruptRecordErrorOptions = {}) {
    super('CORRUPT_RECORD', message, options);
    this.file = options.where?.file;
    this.position = options.where?.position;
    this.offset = options.where?.offset;
  }
}

/** A pre-encoded batch is malformed: bad CRC, bad magic, offsets out of order, ... */
export class InvalidBatchError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('INVALID_BATCH', message, options);
  }
}

/** A batch is larger than `maxMessageBytes`. */
export class BatchTooLargeError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('BATCH_TOO_LARGE', message, options);
  }
}

/** A single record is larger than `maxMessageBytes`. */
export class RecordTooLargeError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('RECORD_TOO_LARGE', message, options);
  }
}

/** An offset outside [logStartOffset, logEndOffset]. */
export class OffsetOutOfRangeError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('OFFSET_OUT_OF_RANGE', message, options);
  }
}

/** Another writer (this process or another) holds the partition's lock. */
export class LogLockedError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('LOG_LOCKED', message, { retriable: true, ...options });
  }
}

/** The log was closed. */
export class LogClosedError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('LOG_CLOSED', message, options);
  }
}

/** A write on a log opened with `readOnly: true`. */
export class ReadOnlyError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('READ_ONLY', message, options);
  }
}

/** A batch uses a compression codec tidelog does not read (gzip, snappy, zstd). */
export class UnsupportedCompressionError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('UNSUPPORTED_COMPRESSION', message, options);
  }
}

/** A call that the log's current state does not allow (e.g. an append during truncateTo). */
export class InvalidStateError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('INVALID_STATE', message, options);
  }
}

const BY_CODE: Record<string, new (message: string) => TidelogError> = {
  IO_ERROR: IoError,
  DISK_FULL: DiskFullError,
  CORRUPT_RECORD: CorruptRecordError,
  INVALID_ARGUMENT: InvalidArgumentError,
  INVALID_BATCH: InvalidBatchError,
  BATCH_TOO_LARGE: BatchTooLargeError,
  OFFSET_OUT_OF_RANGE: OffsetOutOfRangeError,
  LOG_LOCKED: LogLockedError,
  LOG_CLOSED: LogClosedError,
  READ_ONLY: ReadOnlyError,
};

/** Builds the error for a code raised by the native addon; `where` locates a corruption. */
export function errorFromNative(code: string, message: string, where?: CorruptionSite): TidelogError {
  if (code === 'CORRUPT_RECORD') return new CorruptRecordError(message, where === undefined ? {} : { where });
  const Ctor = BY_CODE[code];
  return Ctor ? new Ctor(message) : new IoError(`${code}: ${message}`);
}
