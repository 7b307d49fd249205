import { describe, expect, it } from 'vitest';
import { clientAddress } from '../../src/graphql/pipeline/client.js';

/** Who a request comes from, behind trusted proxies or not (issue 13, M4; LINPATH_TRUSTED_PROXIES). */
describe('clientAddress', () => {
  const forwarded = (value: string) => ({ 'x-forwarded-for': value });

  it('is the peer, IPv4-mapped addresses as IPv4, when no proxy is trusted; X-Forwarded-For is ignored', () => {
    expect(clientAddress('::ffff:10.0.0.7', {}, [])).toBe('10.0.0.7');
    expect(clientAddress('10.0.0.7', forwarded('1.2.3.4'), [])).toBe('10.0.0.7');
    expect(clientAddress(undefined, {}, [])).toBe('unknown');
  });

  it('behind trusted proxies, is the nearest forwarded address that is not a trusted proxy', () => {
    const proxies = ['10.0.0.1', '10.0.0.2'];
    expect(clientAddress('10.0.0.1', forwarded('203.0.113.9'), proxies)).toBe('203.0.113.9');
    // A client may forge the left part; only what the trusted proxies appended counts.
    expect(clientAddress('10.0.0.1', forwarded('6.6.6.6, 203.0.113.9, 10.0.0.2'), proxies)).toBe('203.0.113.9');
    expect(clientAddress('::ffff:10.0.0.1', forwarded('2001:db8::1'), proxies)).toBe('2001:db8::1');
    // No header, or only proxies, or garbage: the proxy itself.
    expect(clientAddress('10.0.0.1', {}, proxies)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', forwarded('10.0.0.2'), proxies)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', forwarded('not-an-address'), proxies)).toBe('10.0.0.1');
    // A peer that is not a trusted proxy is not believed.
    expect(clientAddress('10.0.0.9', forwarded('203.0.113.9'), proxies)).toBe('10.0.0.9');
  });
});
