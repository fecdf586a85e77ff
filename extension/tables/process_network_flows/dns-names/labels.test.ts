import { describe, expect, it } from 'vitest';
import { labelsOf } from './labels.js';
import type { DnsAnswer, DnsMessage } from './parse-dns.js';

const A = 1;
const CNAME = 5;
const AAAA = 28;
const HTTPS = 65;

function response(qname: string, answers: DnsAnswer[], over: Partial<DnsMessage> = {}, qtype = A): DnsMessage {
  return { id: 0x1f2e, response: true, opcode: 0, rcode: 0, truncated: false, questions: [{ name: qname, type: qtype, class: 1 }], answers, ...over };
}

describe('labelsOf (which addresses a response names, and after what)', () => {
  it('labels every address of a CNAME chain with the name that was asked, not the CDN target', () => {
    // www.apple.com as a resolver answers it: two CNAMEs to Akamai, then the edge addresses
    const msg = response('www.apple.com', [
      { name: 'www.apple.com', type: CNAME, ttl: 300, data: 'www.apple.com.edgekey.net' },
      { name: 'www.apple.com.edgekey.net', type: CNAME, ttl: 21600, data: 'e6858.dsce9.akamaiedge.net' },
      { name: 'e6858.dsce9.akamaiedge.net', type: A, ttl: 20, data: '23.52.40.119' },
      { name: 'e6858.dsce9.akamaiedge.net', type: A, ttl: 20, data: '23.52.40.120' },
    ]);
    expect(labelsOf(msg)).toEqual({
      labels: [
        { address: '23.52.40.119', name: 'www.apple.com', ttl: 20 },
        { address: '23.52.40.120', name: 'www.apple.com', ttl: 20 },
      ],
    });
  });

  it('follows a chain listed out of order', () => {
    const msg = response(
      'files.example.org',
      [
        { name: 'edge.cdn.example.net', type: AAAA, ttl: 60, data: '2001:db8::7' },
        { name: 'b.example.net', type: CNAME, ttl: 60, data: 'edge.cdn.example.net' },
        { name: 'files.example.org', type: CNAME, ttl: 60, data: 'b.example.net' },
      ],
      {},
      AAAA,
    );
    expect(labelsOf(msg).labels).toEqual([{ address: '2001:db8::7', name: 'files.example.org', ttl: 60 }]);
  });

  it('ignores address records for names off the chain (a forwarder passing on out-of-bailiwick data)', () => {
    const msg = response('x.attacker.example', [
      { name: 'x.attacker.example', type: A, ttl: 60, data: '203.0.113.9' },
      // an extra record claiming a common domain lives at the attacker's address
      { name: 'api.dropboxapi.com', type: A, ttl: 60, data: '203.0.113.10' },
    ]);
    expect(labelsOf(msg).labels).toEqual([{ address: '203.0.113.9', name: 'x.attacker.example', ttl: 60 }]);
  });

  it('a CNAME loop ends (each name joins the chain once)', () => {
    const msg = response('a.example', [
      { name: 'a.example', type: CNAME, ttl: 60, data: 'b.example' },
      { name: 'b.example', type: CNAME, ttl: 60, data: 'a.example' },
      { name: 'b.example', type: A, ttl: 60, data: '198.51.100.1' },
    ]);
    expect(labelsOf(msg).labels).toEqual([{ address: '198.51.100.1', name: 'a.example', ttl: 60 }]);
  });

  it('names nothing for NXDOMAIN, queries, other opcodes, several questions, other types, and sinkholed names', () => {
    const answer = [{ name: 'a.example', type: A, ttl: 60, data: '198.51.100.1' }];
    expect(labelsOf(response('a.example', answer, { rcode: 3 }))).toEqual({ labels: [], reason: 'error_rcode' });
    expect(labelsOf(response('a.example', answer, { response: false }))).toEqual({ labels: [], reason: 'not_answer' });
    expect(labelsOf(response('a.example', answer, { opcode: 5 }))).toEqual({ labels: [], reason: 'not_answer' });
    expect(labelsOf({ ...response('a.example', answer), questions: [] })).toEqual({ labels: [], reason: 'not_answer' });
    const two = response('a.example', answer);
    two.questions.push({ name: 'b.example', type: A, class: 1 });
    expect(labelsOf(two)).toEqual({ labels: [], reason: 'not_answer' });
    expect(labelsOf(response('a.example', answer, {}, HTTPS))).toEqual({ labels: [], reason: 'not_answer' });
    expect(labelsOf({ ...response('a.example', answer), questions: [{ name: 'a.example', type: A, class: 3 }] })).toEqual({ labels: [], reason: 'not_answer' });
    expect(labelsOf(response('ads.example', [{ name: 'ads.example', type: A, ttl: 60, data: '0.0.0.0' }]))).toEqual({ labels: [], reason: 'no_address' });
    expect(labelsOf(response('a.example', []))).toEqual({ labels: [], reason: 'no_address' });
    // an A record of another class comes out of the parser without an address
    expect(labelsOf(response('a.example', [{ name: 'a.example', type: A, ttl: 60, data: '' }]))).toEqual({ labels: [], reason: 'no_address' });
  });

  it('refuses a question name no TLS client would send (escaped bytes, empty labels, too long)', () => {
    const answerFor = (name: string) => [{ name, type: A, ttl: 60, data: '198.51.100.1' }];
    for (const name of ['evil\\046example.com', 'a..example', '', `${'a'.repeat(64)}.example`, `${'abcdefghi.'.repeat(26)}com`, 'x y.example']) {
      expect(labelsOf(response(name, answerFor(name))), name).toEqual({ labels: [], reason: 'odd_name' });
    }
    expect(labelsOf(response('_dmarc.example.com', answerFor('_dmarc.example.com'))).labels).toHaveLength(1);
  });
});
