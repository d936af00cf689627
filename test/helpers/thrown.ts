/** The fields a configuration error carries across the worker boundary (HOUSE-STYLE: `code` is the contract). */
export interface ThrownError {
  code?: string;
  message: string;
  file?: string;
  line?: number;
}

/** Capture a thrown error for assertions on code, message, file and line; fails when nothing is thrown. */
export function thrown(fn: () => unknown): ThrownError {
  try {
    fn();
  } catch (e) {
    return e as ThrownError;
  }
  throw new Error('expected an error, none was thrown');
}
