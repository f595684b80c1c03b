import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { signV4 } from 'minio/dist/main/signing.js';
import { ROOT } from '../common/paths';

/**
 * lib/storage/minio-admin.ts signs MinIO admin requests with minio-js's signV4, from a subpath of
 * the package that its README does not document. What it relies on, pinned here so that an upgrade
 * of `minio` that moves or changes it fails this test, not a deployment. That MinIO accepts the
 * signature is tests/minio-admin.test.ts's (it needs a server).
 */

describe("minio-js's signV4, as lib/storage/minio-admin.ts uses it", () => {
  test('resolves through the package\'s "exports" to its CommonJS build, with Node\'s own resolver', () => {
    // In a node of its own: jest resolves modules its own way. From the file that imports it, as the compiled commands do.
    const script = `
      const r = require('node:module').createRequire(${JSON.stringify(path.join(ROOT, 'lib', 'storage', 'minio-admin.ts'))});
      let internal;
      try { r.resolve('minio/dist/main/internal/helper.js'); internal = 'resolved'; } catch (e) { internal = e.code; }
      const { signV4 } = r('minio/dist/main/signing.js');
      process.stdout.write(JSON.stringify({ resolved: r.resolve('minio/dist/main/signing.js'), internal, signV4: typeof signV4, length: signV4.length }));
    `;
    expect(JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))).toEqual({
      resolved: path.join(ROOT, 'node_modules', 'minio', 'dist', 'main', 'signing.js'),
      // The exports map is in force (the package's internals stay closed): the path above is one it opens.
      internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      signV4: 'function',
      length: 6,
    });
  });

  test('takes (request, accessKey, secretKey, region, requestDate, sha256sum[, serviceName])', () => {
    expect(typeof signV4).toBe('function');
    // Function.length stops at the first parameter with a default: serviceName = 's3'.
    expect(signV4.length).toBe(6);
  });

  test("signs AWS's own example request as AWS does (SigV4, GET Object with a Range header)", () => {
    // docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "Example: GET Object".
    const sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const headers = { host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9', 'x-amz-content-sha256': sha256, 'x-amz-date': '20130524T000000Z' };
    const authorization = signV4(
      { protocol: 'https:', method: 'GET', path: '/test.txt', headers },
      'AKIAIOSFODNN7EXAMPLE',
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'us-east-1',
      new Date('2013-05-24T00:00:00Z'),
      sha256,
    );
    expect(authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ' +
        'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ' +
        'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });
});
