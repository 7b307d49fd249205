import { describe, expect, it } from 'vitest';
import { addressGroup, limitBucket } from '../../src/graphql/pipeline/auth.js';

/** What per-client limits count by (issue 13, M4): IPv6 clients by their /64, IPv4 as they are. */
describe('addressGroup', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.0.0.7', '10.0.0.7'],
    ['2001:db8:0:1::5', '2001:db8:0:1::/64'],
    ['2001:db8:0:1:ffff:ffff:ffff:ffff', '2001:db8:0:1::/64'],
    ['2001:0DB8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['64:ff9b:1:2::10.0.0.1', '64:ff9b:1:2::/64'],
    ['unknown', 'unknown'],
  ])('%s → %s', (address, group) => {
    expect(addressGroup(address)).toBe(group);
  });

  it('gives every address of one /64 one bucket, and different /64s different ones', () => {
    const bucket = (client: string) => limitBucket({ kind: 'anonymous', client });
    expect(bucket('2001:db8:0:1::1')).toBe(bucket('2001:db8:0:1:abcd::9'));
    expect(bucket('2001:db8:0:1::1')).not.toBe(bucket('2001:db8:0:2::1'));
  });
});
