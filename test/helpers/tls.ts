import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { tempDir } from './server.ts';

/** A certificate made by openssl, with the files it lives in. */
export interface Issued {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: string;
  readonly key: string;
  /** Upper-case hex, as X509Certificate and getPeerCertificate() print it. */
  readonly serial: string;
}

export interface IssueOptions {
  /** subjectAltName entries, e.g. ['IP:127.0.0.1', 'DNS:localhost']; default both of those. */
  readonly names?: readonly string[];
  /** Negative makes a certificate that expired a day ago. Default 2. */
  readonly days?: number;
  /** A client certificate (clientAuth) rather than a server one. */
  readonly client?: boolean;
  /** A CA that may sign others (an intermediate). */
  readonly ca?: boolean;
}

let serials = 0x1000;

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A private certificate authority in a temporary folder, made with the system's openssl. EC P-256 keys,
 * which openssl makes in milliseconds. `remove()` deletes everything it made.
 */
export class TestCa {
  readonly certPath: string;
  readonly keyPath: string;

  private constructor(
    readonly dir: string,
    readonly name: string,
    private readonly removeDir: () => void,
  ) {
    this.certPath = join(dir, `${name}.crt`);
    this.keyPath = join(dir, `${name}.key`);
  }

  static create(name = 'test-ca'): TestCa {
    const dir = tempDir('taskctl-tls-');
    const ca = new TestCa(dir.path, name, dir.remove);
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        ca.keyPath,
        '-out',
        ca.certPath,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
      ],
      dir.path,
    );
    return ca;
  }

  /** The CA's certificate, PEM. */
  get cert(): string {
    return readFileSync(this.certPath, 'utf8');
  }

  /** A certificate signed by this CA (or by `signer`, an intermediate this CA issued). */
  issue(name: string, options: IssueOptions = {}, signer?: Issued): Issued {
    const serial = (serials++).toString(16).toUpperCase();
    const keyPath = join(this.dir, `${name}.key`);
    const csrPath = join(this.dir, `${name}.csr`);
    const certPath = join(this.dir, `${name}.crt`);
    const extPath = join(this.dir, `${name}.ext`);
    const extensions = options.ca
      ? ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']
      : [
          `subjectAltName=${(options.names ?? ['IP:127.0.0.1', 'DNS:localhost']).join(',')}`,
          `extendedKeyUsage=${options.client ? 'clientAuth' : 'serverAuth'}`,
        ];
    writeFileSync(extPath, `${extensions.join('\n')}\n`);
    openssl(
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${name}`],
      this.dir,
    );
    const [caCert, caKey] = signer ? [signer.certPath, signer.keyPath] : [this.certPath, this.keyPath];
    openssl(
      [
        'x509',
        '-req',
        '-in',
        csrPath,
        '-CA',
        caCert,
        '-CAkey',
        caKey,
        '-set_serial',
        `0x${serial}`,
        '-days',
        String(options.days ?? 2),
        '-extfile',
        extPath,
        '-out',
        certPath,
      ],
      this.dir,
    );
    return {
      certPath,
      keyPath,
      cert: readFileSync(certPath, 'utf8'),
      key: readFileSync(keyPath, 'utf8'),
      serial: new X509Certificate(readFileSync(certPath)).serialNumber,
    };
  }

  remove(): void {
    this.removeDir();
  }
}

/** The serial number of the certificate a TLS server at `port` presents to a new connection. */
export function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}
