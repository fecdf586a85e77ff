import type { DnsAnswer, DnsQuestion } from '../parse-dns.js';
import { NXDOMAIN_FLAGS, RESPONSE_FLAGS, TYPE, buildDnsMessage, buildQuery, ednsOpt, type RecordSpec } from './dns-wire.js';

/**
 * The DNS exchanges the live capture test serves over loopback and the fixtures hold: the shapes a resolver
 * really returns (a CDN CNAME chain compressed into earlier rdata, several A/AAAA answers, NXDOMAIN with an SOA
 * in authority, 0x20 mixed-case echo, EDNS OPT in additional).
 */

export const SERVER_V4 = '127.0.53.53';
export const SERVER_V6 = '::1';

export interface Exchange {
  id: number;
  family: 4 | 6;
  query: Buffer;
  response: Buffer;
  expect: { rcode: number; questions: DnsQuestion[]; answers: DnsAnswer[] };
}

const CHAIN: RecordSpec[] = [
  { name: 'www.example.com', type: TYPE.CNAME, ttl: 300, data: 'www.example.com.edgekey.net' },
  { name: 'www.example.com.edgekey.net', type: TYPE.CNAME, ttl: 60, data: 'e6858.dscx.akamaiedge.net' },
];
const CHAIN_EXPECT: DnsAnswer[] = [
  { name: 'www.example.com', type: TYPE.CNAME, ttl: 300, data: 'www.example.com.edgekey.net' },
  { name: 'www.example.com.edgekey.net', type: TYPE.CNAME, ttl: 60, data: 'e6858.dscx.akamaiedge.net' },
];

function exchange(id: number, family: 4 | 6, qname: string, qtype: number, flags: number, rest: { answers?: RecordSpec[]; authority?: RecordSpec[] }, expect: Exchange['expect']): Exchange {
  const response = buildDnsMessage({ id, flags, questions: [{ name: qname, type: qtype }], ...rest, additional: [ednsOpt()] });
  return { id, family, query: buildQuery(id, qname, qtype), response, expect };
}

export const SCENARIO: Exchange[] = [
  exchange(
    0x1a01,
    4,
    'www.example.com',
    TYPE.A,
    RESPONSE_FLAGS,
    {
      answers: [
        ...CHAIN,
        { name: 'e6858.dscx.akamaiedge.net', type: TYPE.A, ttl: 20, data: '23.215.0.136' },
        { name: 'e6858.dscx.akamaiedge.net', type: TYPE.A, ttl: 20, data: '23.215.0.138' },
      ],
    },
    {
      rcode: 0,
      questions: [{ name: 'www.example.com', type: TYPE.A, class: 1 }],
      answers: [
        ...CHAIN_EXPECT,
        { name: 'e6858.dscx.akamaiedge.net', type: TYPE.A, ttl: 20, data: '23.215.0.136' },
        { name: 'e6858.dscx.akamaiedge.net', type: TYPE.A, ttl: 20, data: '23.215.0.138' },
      ],
    },
  ),
  exchange(
    0x1a02,
    6,
    'www.example.com',
    TYPE.AAAA,
    RESPONSE_FLAGS,
    {
      answers: [
        ...CHAIN,
        { name: 'e6858.dscx.akamaiedge.net', type: TYPE.AAAA, ttl: 20, data: '2600:1406:3a00:21:0:0:173e:2e65' },
        { name: 'e6858.dscx.akamaiedge.net', type: TYPE.AAAA, ttl: 20, data: '2600:1406:3a00:0021:0000:0000:0000:2e66' },
      ],
    },
    {
      rcode: 0,
      questions: [{ name: 'www.example.com', type: TYPE.AAAA, class: 1 }],
      answers: [
        ...CHAIN_EXPECT,
        { name: 'e6858.dscx.akamaiedge.net', type: TYPE.AAAA, ttl: 20, data: '2600:1406:3a00:21::173e:2e65' },
        { name: 'e6858.dscx.akamaiedge.net', type: TYPE.AAAA, ttl: 20, data: '2600:1406:3a00:21::2e66' },
      ],
    },
  ),
  exchange(
    0x1a03,
    4,
    'nosuch.example.com',
    TYPE.A,
    NXDOMAIN_FLAGS,
    { authority: [{ name: 'example.com', type: TYPE.SOA, ttl: 3600, data: { soa: { mname: 'ns.icann.org', rname: 'noc.dns.icann.org', serial: 2024081465 } } }] },
    { rcode: 3, questions: [{ name: 'nosuch.example.com', type: TYPE.A, class: 1 }], answers: [] },
  ),
  exchange(
    0x1a04,
    4,
    'Api.GitHub.COM',
    TYPE.A,
    RESPONSE_FLAGS,
    { answers: [{ name: 'Api.GitHub.COM', type: TYPE.A, ttl: 60, data: '140.82.112.6' }] },
    { rcode: 0, questions: [{ name: 'api.github.com', type: TYPE.A, class: 1 }], answers: [{ name: 'api.github.com', type: TYPE.A, ttl: 60, data: '140.82.112.6' }] },
  ),
  exchange(
    0x1a05,
    6,
    'ipv4only.arpa',
    TYPE.AAAA,
    RESPONSE_FLAGS,
    { answers: [{ name: 'ipv4only.arpa', type: TYPE.AAAA, ttl: 1800, data: '64:ff9b::c000:aa' }] },
    { rcode: 0, questions: [{ name: 'ipv4only.arpa', type: TYPE.AAAA, class: 1 }], answers: [{ name: 'ipv4only.arpa', type: TYPE.AAAA, ttl: 1800, data: '64:ff9b::c000:aa' }] },
  ),
];
