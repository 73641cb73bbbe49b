import { ManifestError } from '../lib/errors.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

// Quantities follow Kubernetes' grammar: a signed decimal number followed by a binary suffix
// (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m k M G T P E) or an exponent (e3, E-2). Arithmetic is
// exact (BigInt over the decimal digits) so "1.5Gi" or "0.1" never suffer float rounding.

/** QuantityErrorCode lists the stable codes of quantity errors. */
export const QuantityErrorCode = {
  syntax: ErrorCodes.QuantitySyntax,
  negative: ErrorCodes.QuantityNegative,
  precision: ErrorCodes.QuantityPrecision,
  range: ErrorCodes.QuantityRange,
} as const;

/** QuantityResource is which resource a quantity measures; it picks the unit of the result. */
export type QuantityResource = 'cpu' | 'memory';

/**
 * QuantityError is thrown by parseCpu/parseMemory: a ManifestError of the index (one of the
 * QuantityErrorCode codes); `data` says what was parsed and why it failed.
 */
export class QuantityError extends ManifestError {
  declare readonly data: { input: string; resource: QuantityResource };
  constructor(code: (typeof QuantityErrorCode)[keyof typeof QuantityErrorCode], message: string, input: string, resource: QuantityResource) {
    super(code, message, { input, resource });
    this.name = 'QuantityError';
  }
}

const GRAMMAR = /^([+-]?)(\d+)?(?:\.(\d*))?(?:([eE])([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;
const MAX_INPUT_LENGTH = 64;
// Past this many powers of ten a non-zero value is surely out of range or below precision, and
// refusing early keeps "1e999999999" from building a giant BigInt.
const MAX_EXPONENT = 40;

const DECIMAL_SUFFIX: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIX: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };

const UNITS: Record<QuantityResource, { exp10: number; unit: string; example: string }> = {
  cpu: { exp10: 3, unit: 'millicores', example: '"500m", "1.5" or 2' },
  memory: { exp10: 0, unit: 'bytes', example: '"256Mi", "1G", "1.5Gi" or 1048576' },
};

/**
 * parseQuantity returns the quantity as an integer number of `resource` base units (millicores for
 * cpu, bytes for memory). Throws QuantityError: E_QUANTITY_SYNTAX (not a quantity),
 * E_QUANTITY_NEGATIVE, E_QUANTITY_PRECISION (finer than 1m cpu or 1 byte), E_QUANTITY_RANGE
 * (beyond Number.MAX_SAFE_INTEGER).
 */
export function parseQuantity(input: unknown, resource: QuantityResource): number {
  const text = quantityText(input, resource);
  const m = GRAMMAR.exec(text);
  const [, sign = '', intPart = '', fracPart = '', expMark, expDigits, suffix] = m ?? [];
  if (m === null || (intPart === '' && fracPart === '')) {
    throw new QuantityError(QuantityErrorCode.syntax, `"${text}" is not a ${resource} quantity (expected e.g. ${UNITS[resource].example})`, text, resource);
  }
  const digits = BigInt(intPart + fracPart);
  if (sign === '-' && digits !== 0n) {
    throw new QuantityError(QuantityErrorCode.negative, `${resource} quantity "${text}" is negative`, text, resource);
  }
  if (digits === 0n) return 0;
  let exp10 = UNITS[resource].exp10 - fracPart.length;
  let binary = 1n;
  if (expMark !== undefined) exp10 += Number(expDigits);
  else if (suffix !== undefined && suffix in BINARY_SUFFIX) binary = BINARY_SUFFIX[suffix]!;
  else if (suffix !== undefined) exp10 += DECIMAL_SUFFIX[suffix]!;

  if (exp10 > MAX_EXPONENT || !Number.isFinite(exp10)) {
    throw new QuantityError(QuantityErrorCode.range, `${resource} quantity "${text}" is too large`, text, resource);
  }
  if (exp10 < -MAX_EXPONENT) {
    throw new QuantityError(QuantityErrorCode.precision, `${resource} quantity "${text}" is finer than 1 ${UNITS[resource].unit.replace(/s$/, '')}`, text, resource);
  }
  let numerator = digits * binary;
  let denominator = 1n;
  if (exp10 >= 0) numerator *= 10n ** BigInt(exp10);
  else denominator = 10n ** BigInt(-exp10);
  if (numerator % denominator !== 0n) {
    throw new QuantityError(QuantityErrorCode.precision, `${resource} quantity "${text}" is finer than 1 ${UNITS[resource].unit.replace(/s$/, '')}`, text, resource);
  }
  const value = numerator / denominator;
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new QuantityError(QuantityErrorCode.range, `${resource} quantity "${text}" is too large`, text, resource);
  }
  return Number(value);
}

/** parseCpu returns a cpu quantity ("500m", "1.5", 2) in millicores. Throws QuantityError. */
export function parseCpu(input: unknown): number {
  return parseQuantity(input, 'cpu');
}

/** parseMemory returns a memory quantity ("256Mi", "1G", "1.5Gi", "1e3", 1048576) in bytes. Throws QuantityError. */
export function parseMemory(input: unknown): number {
  return parseQuantity(input, 'memory');
}

/** formatCpu renders millicores the way people write them: 1500 -> "1500m", 2000 -> "2". */
export function formatCpu(millicores: number): string {
  return millicores % 1000 === 0 ? String(millicores / 1000) : `${millicores}m`;
}

/** formatMemory renders bytes with the largest binary suffix that divides them exactly: 268435456 -> "256Mi". */
export function formatMemory(bytes: number): string {
  for (const [suffix, size] of [['Ei', 2 ** 60], ['Pi', 2 ** 50], ['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (bytes !== 0 && bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}

function quantityText(input: unknown, resource: QuantityResource): string {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) {
      throw new QuantityError(QuantityErrorCode.syntax, `${resource} quantity ${String(input)} is not a finite number`, String(input), resource);
    }
    // String() of a JS number is always in the grammar ("0.5", "1e+21", "5e-7").
    return String(input);
  }
  if (typeof input !== 'string') {
    throw new QuantityError(QuantityErrorCode.syntax, `${resource} quantity must be a string or a number, got ${input === null ? 'null' : typeof input}`, String(input), resource);
  }
  if (input.length > MAX_INPUT_LENGTH) {
    throw new QuantityError(QuantityErrorCode.syntax, `${resource} quantity is longer than ${MAX_INPUT_LENGTH} characters`, `${input.slice(0, MAX_INPUT_LENGTH)}...`, resource);
  }
  // Whitespace is rejected by the grammar rather than trimmed: " 1Gi" in YAML is a typo worth reporting.
  return input;
}
