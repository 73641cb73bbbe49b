import { ImageError } from '../../lib/errors.ts';
import { isDigest } from './digest.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** Reference is a parsed image reference: registry host, repository path, tag and/or digest. */
export interface Reference {
  /** domain is the registry host[:port], "localhost" for local-only names. */
  domain: string;
  /** path is the repository inside the registry, e.g. "library/busybox" or "web". */
  path: string;
  tag?: string;
  digest?: string;
}

// Grammar from the distribution project's reference package (docker/distribution/reference).
const component = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const pathPattern = new RegExp(`^${component}(?:/${component})*$`);
const tagPattern = /^[\w][\w.-]{0,127}$/;
const domainPattern = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:.]+\](?::[0-9]+)?$/;

/** LOCAL_DOMAIN is where names without a registry host go (gitcell has no default remote registry). */
export const LOCAL_DOMAIN = 'localhost';

/**
 * parseReference parses an image reference like Docker, with one difference: a name without a
 * registry host ("busybox", "team/web:v1") is local, under LOCAL_DOMAIN ("localhost/busybox"),
 * not Docker Hub. The first path component is a host when it contains "." or ":" or is
 * "localhost". A missing tag (and digest) means "latest". Throws E_REFERENCE_INVALID.
 */
export function parseReference(input: string): Reference {
  const fail = (reason: string): never => {
    throw new ImageError(ErrorCodes.ReferenceInvalid, `image reference "${input}": ${reason}`, { reference: input, reason });
  };
  if (typeof input !== 'string' || input.length === 0) fail('empty');
  if (input.length > 512) fail('longer than 512 characters');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) fail(`"${digest}" is not a sha256 digest`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) fail(`tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  let domain = LOCAL_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      domain = first;
      path = rest.slice(slash + 1);
      if (!domainPattern.test(domain)) fail(`registry host "${domain}" is not a valid host[:port]`);
    }
  }
  if (!pathPattern.test(path)) fail(`repository "${path}" must be lowercase components [a-z0-9] joined by . _ __ - and /`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  const ref: Reference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** formatReference renders a reference in its normalised form, e.g. "localhost/busybox:latest". */
export function formatReference(ref: Reference): string {
  let out = `${ref.domain}/${ref.path}`;
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** normalizeReference is formatReference(parseReference(input)). */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}

/** repositoryOf returns "domain/path" of a reference, without tag and digest. */
export function repositoryOf(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/**
 * isPlainHttpRegistry is true for registries gitcell talks to over plain HTTP: like Docker, hosts on
 * 127.0.0.0/8, ::1 and "localhost" (with any port). Everything else is HTTPS.
 */
export function isPlainHttpRegistry(domain: string): boolean {
  const host = domain.startsWith('[') ? domain.slice(1, domain.indexOf(']')) : domain.replace(/:[0-9]+$/, '');
  if (host === 'localhost' || host === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
