// A self-signed certificate for 127.0.0.1, so the ARM stand-in speaks HTTPS like ARM (core-rest-pipeline
// refuses bearer tokens over http). Processes trust it through NODE_EXTRA_CA_CERTS.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevTls {
  key: string;
  cert: string;
  certPath: string;
  keyPath: string;
}

export async function createDevTls(dir: string): Promise<DevTls> {
  const selfsigned = await import('selfsigned');
  const pems = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 30 * 24 * 3600 * 1000),
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  mkdirSync(dir, { recursive: true });
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  writeFileSync(certPath, pems.cert);
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  return { key: pems.private, cert: pems.cert, certPath, keyPath };
}

/** The certificate in `dir`, made there first if missing (the test runner makes it before Node starts). */
export async function loadDevTls(dir: string): Promise<DevTls> {
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) return createDevTls(dir);
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath, keyPath };
}
