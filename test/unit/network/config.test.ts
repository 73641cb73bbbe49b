import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeNetworkList, ipv4InSubnet, parseCniError, parseCniResult, parseIpv4Cidr, ipv4Of, pluginConf, validateBridgeName } from '../../../runtime/network/index.ts';

test('parseIpv4Cidr accepts network addresses and rejects malformed ones with the field name', () => {
  assert.deepEqual(parseIpv4Cidr('10.88.1.0/24'), { network: (10 << 24 | 88 << 16 | 1 << 8) >>> 0, prefix: 24 });
  for (const bad of ['10.88.1.0', '10.88.1.0/33', '10.88.1.0/31', '300.1.1.0/24', 'x/24', '10.88.1.5/24']) {
    assert.throws(() => parseIpv4Cidr(bad), (e: { code: string; message: string }) => e.code === 'E_NETWORK_CONFIG' && e.message.includes('subnet'), bad);
  }
  assert.throws(() => parseIpv4Cidr('10.88.1.5/24'), /did you mean 10\.88\.1\.0\/24/);
});

test('ipv4InSubnet', () => {
  assert.equal(ipv4InSubnet('10.88.1.7', '10.88.1.0/24'), true);
  assert.equal(ipv4InSubnet('10.88.2.7', '10.88.1.0/24'), false);
  assert.equal(ipv4InSubnet('10.88.3.7', '10.88.0.0/16'), true);
  assert.equal(ipv4InSubnet('nonsense', '10.88.0.0/16'), false);
});

test('validateBridgeName enforces IFNAMSIZ', () => {
  validateBridgeName('gitcell0');
  assert.throws(() => validateBridgeName('gitcell-too-long-name'), { code: 'E_NETWORK_CONFIG' });
  assert.throws(() => validateBridgeName('a/b'), { code: 'E_NETWORK_CONFIG' });
  assert.throws(() => validateBridgeName(''), { code: 'E_NETWORK_CONFIG' });
});

test('bridgeNetworkList: bridge + host-local, no masquerade by default', () => {
  const list = bridgeNetworkList({ name: 'n1', bridge: 'gitcell1', subnet: '10.88.1.0/24', ipamDir: '/s/ipam' });
  assert.equal(list.plugins.length, 1);
  const p = list.plugins[0]!;
  assert.equal(p.type, 'bridge');
  assert.equal(p.ipMasq, false);
  assert.equal(p.isGateway, true);
  assert.deepEqual(p.ipam, { type: 'host-local', ranges: [[{ subnet: '10.88.1.0/24' }]], dataDir: '/s/ipam' });
  assert.equal(bridgeNetworkList({ name: 'n1', bridge: 'b', subnet: '10.88.1.0/24', ipamDir: '/x', ipMasq: true }).plugins[0]!.ipMasq, true);
  assert.throws(() => bridgeNetworkList({ name: 'n 1', bridge: 'b', subnet: '10.88.1.0/24', ipamDir: '/x' }), { code: 'E_NETWORK_CONFIG' });
});

test('pluginConf carries the list name, version and prevResult', () => {
  const list = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge' }] };
  assert.deepEqual(pluginConf(list, list.plugins[0]!), { type: 'bridge', cniVersion: '1.0.0', name: 'n' });
  const prev = { cniVersion: '1.0.0', ips: [] };
  assert.deepEqual(pluginConf(list, list.plugins[0]!, prev).prevResult, prev);
});

test('parseCniResult validates fields and names the plugin', () => {
  const ok = parseCniResult('{"cniVersion":"1.0.0","ips":[{"address":"10.88.1.2/24","gateway":"10.88.1.1","interface":2}]}', 'bridge');
  assert.deepEqual(ipv4Of(ok), { ip: '10.88.1.2', prefix: 24, gateway: '10.88.1.1' });
  assert.throws(() => parseCniResult('nope', 'bridge'), (e: { code: string; message: string }) => e.code === 'E_CNI_RESULT' && e.message.includes('bridge'));
  assert.throws(() => parseCniResult('{"ips":[]}', 'bridge'), /cniVersion/);
  assert.throws(() => parseCniResult('{"cniVersion":"1.0.0","ips":{}}', 'bridge'), /ips is not a list/);
  assert.throws(() => parseCniResult('{"cniVersion":"1.0.0","ips":[{"address":"10.88.1.2"}]}', 'bridge'), /ips\[0\]\.address/);
  assert.equal(ipv4Of({ cniVersion: '1.0.0', ips: [{ address: 'fd00::2/64' }] }), undefined);
});

test('parseCniError reads the spec error object', () => {
  assert.deepEqual(parseCniError('{"code":7,"msg":"bad","details":"more"}'), { code: 7, msg: 'bad', details: 'more' });
  assert.equal(parseCniError('garbage'), undefined);
  assert.equal(parseCniError('{"cniVersion":"1.0.0"}'), undefined);
});
