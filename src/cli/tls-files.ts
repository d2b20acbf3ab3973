import { createPrivateKey, X509Certificate } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { printable } from '../core/printable.ts';
import { UsageError } from './context.ts';

// Certificates, keys and CA bundles named on the command line, read and checked before anything uses
// them: a file that cannot be used is one line naming the flag, the file and why, never an OpenSSL trace.

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The most a credential file (certificate, key, CA bundle, tokens file) may hold. A long chain or a CA bundle
 * of every public root is a few hundred kilobytes; the limit is there so that `--ca /dev/zero` or a huge
 * file is one line, not a process that grows until the machine runs out of memory.
 */
export const MAX_CREDENTIAL_FILE_BYTES = 1024 * 1024;

/**
 * A file named by `flag`, as text: a regular file of at most MAX_CREDENTIAL_FILE_BYTES. Anything else (a
 * device, a pipe, a folder, a bigger file) and any file that cannot be read is a UsageError saying why in
 * words. Opened without blocking, so a pipe nobody writes to cannot hang the read.
 */
export function readText(flag: string, path: string): string {
  const fail = (why: string) => new UsageError(`${flag}: cannot read ${printable(path)}: ${why}`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a folder' : (error as Error).message);
  }
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) throw fail('is a folder');
    if (!stats.isFile()) throw fail('not a regular file');
    if (stats.size > MAX_CREDENTIAL_FILE_BYTES)
      throw fail(`larger than ${MAX_CREDENTIAL_FILE_BYTES / 1024 / 1024} MB, more than any certificate, key or tokens file holds`);
    // One byte more than allowed, in case the file grew since fstat.
    const buffer = Buffer.alloc(MAX_CREDENTIAL_FILE_BYTES + 1);
    let length = 0;
    for (let read = 0; length < buffer.length && (read = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += read;
    if (length > MAX_CREDENTIAL_FILE_BYTES)
      throw fail(`larger than ${MAX_CREDENTIAL_FILE_BYTES / 1024 / 1024} MB, more than any certificate, key or tokens file holds`);
    return buffer.toString('utf8', 0, length);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw fail((error as Error).message);
  } finally {
    closeSync(fd);
  }
}

/** The PEM certificates in `text`, each parsed; the first is the leaf when the file holds a chain. */
function parseCertificates(flag: string, path: string, text: string): X509Certificate[] {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new UsageError(`${flag}: ${printable(path)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new UsageError(`${flag}: certificate ${i + 1} in ${printable(path)} is not a valid certificate`);
    }
  });
}

/** A CA bundle (one or more PEM certificates), as text. */
export function readCertificates(flag: string, path: string): string {
  const text = readText(flag, path);
  parseCertificates(flag, path, text);
  return text;
}

export interface KeyPair {
  /** The certificate file's text: the leaf, then any chain. */
  readonly cert: string;
  readonly key: string;
  /** The leaf certificate, for logs (serial, expiry). */
  readonly leaf: X509Certificate;
}

/** A certificate (with any chain after it) and its private key, checked to belong together. */
export function readKeyPair(certFlag: string, certPath: string, keyFlag: string, keyPath: string): KeyPair {
  const cert = readText(certFlag, certPath);
  const key = readText(keyFlag, keyPath);
  const [leaf] = parseCertificates(certFlag, certPath, cert);
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new UsageError(`${keyFlag}: ${printable(keyPath)} is not a PEM private key (an encrypted key is not supported)`);
  }
  if (!leaf!.checkPrivateKey(privateKey)) {
    throw new UsageError(`${keyFlag}: the key in ${printable(keyPath)} does not match the certificate in ${printable(certPath)}`);
  }
  return { cert, key, leaf: leaf! };
}

/** The client's TLS material from --ca, --cert and --key (or TASKCTL_CA, TASKCTL_CERT, TASKCTL_KEY). */
export function readClientTls(
  args: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined },
  env: NodeJS.ProcessEnv,
): { ca?: string; cert?: string; key?: string } {
  const caPath = args.ca ?? (env.TASKCTL_CA || undefined);
  const certPath = args.cert ?? (env.TASKCTL_CERT || undefined);
  const keyPath = args.key ?? (env.TASKCTL_KEY || undefined);
  if ((certPath === undefined) !== (keyPath === undefined))
    throw new UsageError(`${certPath === undefined ? '--cert' : '--key'}: missing; give --cert and --key together (or TASKCTL_CERT and TASKCTL_KEY)`);
  const tls: { ca?: string; cert?: string; key?: string } = {};
  if (caPath !== undefined) tls.ca = readCertificates('--ca', caPath);
  if (certPath !== undefined && keyPath !== undefined) {
    const pair = readKeyPair('--cert', certPath, '--key', keyPath);
    tls.cert = pair.cert;
    tls.key = pair.key;
  }
  return tls;
}
