import { describe, expect, it } from 'vitest';
import { exchangeKey, PendingQueries, type Exchange } from './match-queries.js';

const base: Exchange = { iface: 'en0', client: '192.168.1.20', clientPort: 50123, server: '192.168.1.1', id: 0x1a2b, question: { name: 'www.example.com', type: 1, class: 1 } };
const key = (o: Partial<Exchange> = {}): Exchange => ({ ...base, ...o });
const label = (address: string) => ({ address, name: 'www.example.com', ttl: 60 });

function setup(maxPending = 8, timeoutMs = 10_000) {
  const stats = { expired: 0, evicted: 0, revokedAtCap: 0, inboundEvicted: 0 };
  return { stats, pending: new PendingQueries({ maxPending, timeoutMs }, stats) };
}

describe('exchangeKey', () => {
  it('differs in every field an answer must echo', () => {
    const keys = [
      key(),
      key({ iface: 'utun4' }),
      key({ client: '192.168.1.21' }),
      key({ clientPort: 50124 }),
      key({ server: '192.168.1.2' }),
      key({ id: 0x1a2c }),
      key({ question: { name: 'www.example.org', type: 1, class: 1 } }),
      key({ question: { name: 'www.example.com', type: 28, class: 1 } }),
      key({ question: { name: 'www.example.com', type: 1, class: 3 } }),
    ];
    expect(new Set(keys.map(exchangeKey)).size).toBe(keys.length);
  });

});

describe('PendingQueries', () => {
  it('an answer matches a query sent, once; an answer without one does not', () => {
    const { pending } = setup();
    expect(pending.answered(key(), 0)).toEqual({ kind: 'unmatched' });
    pending.sent(key(), 0);
    expect(pending.answered(key({ id: 0x1a2c }), 10)).toEqual({ kind: 'unmatched' });
    expect(pending.answered(key(), 20)).toEqual({ kind: 'matched' });
  });

  it('a second answer to one query is a duplicate that takes back what the first named, once', () => {
    const { pending } = setup();
    pending.sent(key(), 0);
    expect(pending.answered(key(), 5)).toEqual({ kind: 'matched' });
    pending.named(key(), [label('198.51.100.1')], 1000);
    expect(pending.answered(key(), 6)).toEqual({ kind: 'duplicate', revoke: [{ labels: [label('198.51.100.1')], at: 1000 }] });
    expect(pending.answered(key(), 7)).toEqual({ kind: 'duplicate', revoke: [] });
  });

  it('a retransmitted query (same id, port and question) may be answered once more without being a duplicate', () => {
    const { pending, stats } = setup();
    pending.sent(key(), 0);
    pending.sent(key(), 1000);
    expect(pending.size).toBe(1);
    expect(pending.answered(key(), 1100)).toEqual({ kind: 'matched' });
    expect(pending.answered(key(), 1200)).toEqual({ kind: 'matched' });
    expect(pending.answered(key(), 1300).kind).toBe('duplicate');
    expect(stats).toEqual({ expired: 0, evicted: 0, revokedAtCap: 0, inboundEvicted: 0 });
  });

  it('a query waits timeoutMs after it was (last) sent, then expires and is counted if unanswered', () => {
    const { pending, stats } = setup(8, 10_000);
    pending.sent(key(), 0);
    pending.sent(key({ id: 2 }), 1000);
    pending.sent(key({ id: 3 }), 2000);
    expect(pending.answered(key({ id: 3 }), 2500)).toEqual({ kind: 'matched' });
    // the first one's retransmission moves it to the back
    pending.sent(key(), 5000);
    expect(pending.answered(key({ id: 2 }), 11_000)).toEqual({ kind: 'unmatched' });
    expect(stats).toEqual({ expired: 1, evicted: 0, revokedAtCap: 0, inboundEvicted: 0 });
    // the answered one is gone without being counted as expired
    expect(pending.answered(key({ id: 3 }), 12_000)).toEqual({ kind: 'unmatched' });
    expect(stats.expired).toBe(1);
    expect(pending.answered(key(), 14_999)).toEqual({ kind: 'matched' });
    // sent twice, so answered twice; a third answer is a duplicate, as it is until the exchange expires
    expect(pending.answered(key(), 14_999)).toEqual({ kind: 'matched' });
    expect(pending.answered(key(), 14_999).kind).toBe('duplicate');
    expect(pending.answered(key(), 15_000)).toEqual({ kind: 'unmatched' });
    expect(pending.size).toBe(0);
    expect(stats).toEqual({ expired: 1, evicted: 0, revokedAtCap: 0, inboundEvicted: 0 });
    // sent twice and answered once: one query expires unanswered
    pending.sent(key({ id: 9 }), 20_000);
    pending.sent(key({ id: 9 }), 20_001);
    expect(pending.answered(key({ id: 9 }), 20_002).kind).toBe('matched');
    expect(pending.answered(key({ id: 9 }), 30_001)).toEqual({ kind: 'unmatched' });
    expect(stats).toEqual({ expired: 2, evicted: 0, revokedAtCap: 0, inboundEvicted: 0 });
  });

  it('a wall clock stepped back does not keep queries answerable past their timeout', () => {
    // nowMs is the wall clock: sent before a step back, an item's expiry lies ahead of every later one and holds the
    // sweep until the clock catches up
    const { pending, stats } = setup(8, 10_000);
    pending.sent(key({ id: 1 }), 1_000_000);
    pending.sent(key({ id: 2 }), 1_000); // the clock stepped back by ~17 minutes
    expect(pending.answered(key({ id: 2 }), 20_000)).toEqual({ kind: 'unmatched' });
    // and the query sent "in the future" of the new clock has waited as long as anyone can tell: no longer either
    expect(pending.answered(key({ id: 1 }), 20_000)).toEqual({ kind: 'unmatched' });
    expect(stats.expired).toBe(2);
    // within its timeout on the new clock, a query is still answered
    pending.sent(key({ id: 3 }), 21_000);
    expect(pending.answered(key({ id: 3 }), 25_000)).toEqual({ kind: 'matched' });
  });

  it('at the cap the oldest exchange goes, counted as evicted while still waiting', () => {
    const { pending, stats } = setup(3);
    pending.sent(key({ id: 1 }), 0);
    pending.sent(key({ id: 2 }), 1);
    expect(pending.answered(key({ id: 2 }), 2).kind).toBe('matched');
    pending.sent(key({ id: 3 }), 3);
    pending.sent(key({ id: 1 }), 4); // a retransmission: id 1 is now the newest
    pending.sent(key({ id: 4 }), 5);
    expect(pending.size).toBe(3);
    // id 2 went first (answered: not counted), then id 3 (waiting: counted)
    expect(pending.answered(key({ id: 2 }), 6)).toEqual({ kind: 'unmatched' });
    pending.sent(key({ id: 5 }), 7);
    expect(pending.answered(key({ id: 3 }), 8)).toEqual({ kind: 'unmatched' });
    expect(stats).toEqual({ expired: 0, evicted: 1, revokedAtCap: 0, inboundEvicted: 0 });
    expect(pending.answered(key({ id: 1 }), 9).kind).toBe('matched');
    expect(pending.answered(key({ id: 1 }), 9).kind).toBe('matched');
    expect(pending.answered(key({ id: 4 }), 9).kind).toBe('matched');
    expect(pending.answered(key({ id: 5 }), 9).kind).toBe('matched');
  });

  it('at the cap, an exchange still waiting or one whose answer named nothing has nothing to give back', () => {
    const { pending, stats } = setup(2);
    pending.sent(key({ id: 1 }), 0);
    pending.sent(key({ id: 2 }), 1);
    expect(pending.answered(key({ id: 2 }), 2).kind).toBe('matched');
    pending.named(key({ id: 2 }), [], 1000);
    expect(pending.sent(key({ id: 3 }), 3)).toEqual([]);
    expect(pending.sent(key({ id: 4 }), 4)).toEqual([]);
    expect(stats).toEqual({ expired: 0, evicted: 1, revokedAtCap: 0, inboundEvicted: 0 });
  });

  it('the cap gives back what an answered exchange named when it pushes it out before its second-answer window closed', () => {
    // Otherwise a flood of queries (any local process can send them) right after a forged answer would push the
    // exchange out, and the resolver's own answer would then match nothing instead of being seen as a second one.
    const { pending, stats } = setup(2);
    pending.sent(key({ id: 1 }), 0);
    pending.answered(key({ id: 1 }), 1);
    pending.named(key({ id: 1 }), [label('203.0.113.66')], 1000);
    pending.sent(key({ id: 2 }), 2);
    expect(pending.sent(key({ id: 3 }), 3)).toEqual([{ labels: [label('203.0.113.66')], at: 1000 }]);
    expect(stats).toEqual({ expired: 0, evicted: 0, revokedAtCap: 1, inboundEvicted: 0 });
    expect(pending.answered(key({ id: 1 }), 4).kind).toBe('unmatched');
    // one that expired on its own (its window closed) keeps its names
    pending.answered(key({ id: 3 }), 5);
    pending.named(key({ id: 3 }), [label('198.51.100.3')], 1000);
    expect(pending.sent(key({ id: 9 }), 20_000)).toEqual([]);
    expect(stats.revokedAtCap).toBe(1);
  });

  it('a flood of queries stays within the cap, and the newest ones still match', () => {
    const { pending, stats } = setup(1000, 10_000);
    for (let i = 0; i < 200_000; i++) pending.sent(key({ clientPort: 1024 + (i % 60_000), id: i & 0xffff }), i / 100);
    expect(pending.size).toBe(1000);
    expect(stats.evicted).toBe(199_000);
    const last = 199_999;
    expect(pending.answered(key({ clientPort: 1024 + (last % 60_000), id: last & 0xffff }), 2000).kind).toBe('matched');
    expect(pending.answered(key({ clientPort: 1024, id: 0 }), 2000).kind).toBe('unmatched');
  });

  it('the same query repeated within one millisecond (one capture chunk) keeps a bounded queue', () => {
    // every packet of a chunk is handled at the same nowMs: only the latest item of an exchange is live
    const { pending } = setup(4, 10_000);
    for (let i = 0; i < 5_000; i++) pending.sent(key(), 1000);
    expect(pending.size).toBe(1);
    expect((pending as unknown as { queue: unknown[] }).queue.length).toBeLessThan(200);
  });

  it('at the cap, an exchange re-sent within the same millisecond counts as the newest', () => {
    const { pending, stats } = setup(2);
    pending.sent(key({ id: 1 }), 1000);
    pending.sent(key({ id: 2 }), 1000);
    pending.sent(key({ id: 1 }), 1000); // a retransmission in the same chunk: id 2 is now the oldest
    pending.sent(key({ id: 3 }), 1000);
    expect(pending.answered(key({ id: 2 }), 1000).kind).toBe('unmatched');
    expect(pending.answered(key({ id: 1 }), 1000).kind).toBe('matched');
    expect(stats.evicted).toBe(1);
  });

  it('the same query repeated forever keeps one entry and a bounded queue', () => {
    const { pending } = setup(4, 10_000);
    for (let i = 0; i < 20_000; i++) pending.sent(key(), i);
    expect(pending.size).toBe(1);
    expect((pending as unknown as { queue: unknown[] }).queue.length).toBeLessThan(200);
    const kinds = new Set<string>();
    for (let i = 0; i < 20_000; i++) kinds.add(pending.answered(key(), 20_000).kind);
    expect([...kinds]).toEqual(['matched']);
    expect(pending.answered(key(), 20_000).kind).toBe('duplicate');
  });

  it('an answer with the exchange\'s port, id and addresses but another question or none is a second answer after a matched one', () => {
    const { pending } = setup();
    pending.sent(key(), 0);
    // before any matched answer it answers nothing, and the exchange still waits for its real answer
    expect(pending.answered({ ...key(), question: undefined }, 1)).toEqual({ kind: 'unmatched' });
    expect(pending.answered(key({ question: { name: 'www.example.org', type: 1, class: 1 } }), 2)).toEqual({ kind: 'unmatched' });
    expect(pending.answered(key(), 3)).toEqual({ kind: 'matched' });
    pending.named(key(), [label('203.0.113.66')], 1000);
    // the resolver's error reply without the question section, after a (forged) matched answer
    expect(pending.answered({ ...key(), question: undefined }, 4)).toEqual({ kind: 'duplicate', revoke: [{ labels: [label('203.0.113.66')], at: 1000 }] });
    expect(pending.answered(key({ question: { name: 'www.example.com', type: 28, class: 1 } }), 5)).toEqual({ kind: 'duplicate', revoke: [] });
    // another transaction (port, id or addresses) is not touched
    pending.sent(key({ id: 2 }), 6);
    pending.answered(key({ id: 2 }), 7);
    pending.named(key({ id: 2 }), [label('198.51.100.2')], 1000);
    for (const other of [{ clientPort: 50124 }, { id: 3 }, { client: '192.168.1.21' }, { server: '192.168.1.2' }, { iface: 'utun4' }]) {
      expect(pending.answered({ ...key({ id: 2, ...other }), question: undefined }, 8)).toEqual({ kind: 'unmatched' });
    }
    // nor once the exchange has expired
    expect(pending.answered({ ...key({ id: 2 }), question: undefined }, 10_006)).toEqual({ kind: 'unmatched' });
  });

  it('a stub asking two questions with one id and port: each answer matches its own, and a third answer takes back both', () => {
    const { pending } = setup();
    const aaaa = { question: { name: 'www.example.com', type: 28, class: 1 } };
    pending.sent(key(), 0);
    pending.sent(key(aaaa), 0);
    expect(pending.answered(key(), 1)).toEqual({ kind: 'matched' });
    pending.named(key(), [label('198.51.100.1')], 1000);
    expect(pending.answered(key(aaaa), 2)).toEqual({ kind: 'matched' });
    expect(pending.answered({ ...key(), question: undefined }, 3)).toEqual({ kind: 'duplicate', revoke: [{ labels: [label('198.51.100.1')], at: 1000 }] });
    // the cap and expiry keep the per-transaction index in step
    pending.sent(key({ id: 5 }), 20_000);
    expect(pending.size).toBe(1);
    expect((pending as unknown as { byTransaction: Map<string, unknown> }).byTransaction.size).toBe(1);
  });
});

describe('PendingQueries: queries forwarded for a guest', () => {
  const fwd = (o: Partial<Exchange> = {}) => {
    const { iface, clientPort, id, question } = key(o);
    return { iface, clientPort, id, question };
  };
  /** the inbound keys remembered for each interface */
  const shares = (pending: PendingQueries) => (pending as unknown as { inbound: { byIface: Map<string, { size: number; byKey: Map<string, unknown>; queue: unknown[]; head: number }> } }).inbound.byIface;

  it('an outbound query that repeats an inbound one (client port, id, question) within the timeout is forwarded', () => {
    const { pending } = setup(8, 10_000);
    expect(pending.forwarded(fwd(), 0)).toBe(false);
    pending.foreign(fwd(), 1000);
    expect(pending.forwarded(fwd(), 1001)).toBe(true);
    // NAT changes the client address, and the copy leaves by another interface: neither is compared
    expect(pending.forwarded(key({ client: '172.17.0.2', iface: 'docker0' }), 1002)).toBe(true);
    for (const other of [{ clientPort: 50124 }, { id: 2 }, { question: { name: 'www.example.org', type: 1, class: 1 } }, { question: { name: 'www.example.com', type: 28, class: 1 } }]) {
      expect(pending.forwarded(fwd(other), 1003)).toBe(false);
    }
    expect(pending.forwarded(fwd(), 10_999)).toBe(true);
    expect(pending.forwarded(fwd(), 11_000)).toBe(false);
    // nor what the wall clock stepping back leaves "ahead" by more than a timeout
    pending.foreign(fwd({ id: 7 }), 1_000_000);
    expect(pending.forwarded(fwd({ id: 7 }), 20_000)).toBe(false);
  });

  it('nor the server: a NAT that rewrites the guest\'s resolver (DNAT 10.0.2.3 → 8.8.8.8) still forwards the guest\'s query', () => {
    const { pending } = setup(8, 10_000);
    pending.foreign(key({ iface: 'veth1', client: '10.0.2.15', server: '10.0.2.3', clientPort: 41000, id: 0x1234 }), 1000);
    expect(pending.forwarded(key({ iface: 'eth0', server: '8.8.8.8', clientPort: 41000, id: 0x1234 }), 1000)).toBe(true);
  });

  it('inbound queries are bounded by the cap (the oldest goes first, counted), and a flood keeps the newest', () => {
    const { pending, stats } = setup(100, 10_000);
    for (let i = 0; i < 50_000; i++) pending.foreign(fwd({ clientPort: 1024 + (i % 60_000), id: i & 0xffff }), i / 100);
    const inbound = shares(pending).get('en0')!;
    expect(shares(pending).size).toBe(1);
    expect(inbound.byKey.size).toBe(100);
    expect(inbound.queue.length).toBeLessThan(100 + 2 * 1024);
    expect(inbound.queue.length - inbound.head).toBeLessThan(400);
    expect(pending.forwarded(fwd({ clientPort: 1024 + 49_999, id: 49_999 & 0xffff }), 500)).toBe(true);
    expect(pending.forwarded(fwd({ clientPort: 1024 + 49_899, id: 49_899 & 0xffff }), 500)).toBe(false);
    // pushed out by the cap, not by time: the last 100 came within the last second
    expect(stats).toEqual({ expired: 0, evicted: 0, revokedAtCap: 0, inboundEvicted: 49_900 });
    // and forwarded queries are not pending ones
    expect(pending.size).toBe(0);
  });

  it('inbound queries on one interface push out another\'s only while it holds more: a flood on the uplink keeps a guest\'s', () => {
    // Queries from the Internet to this host's address (in on eth0) between a guest's query in on its
    // veth and its forwarded copy out on eth0
    const { pending, stats } = setup(16, 10_000);
    pending.foreign(fwd({ iface: 'veth1', clientPort: 40000, id: 77 }), 1000);
    for (let i = 0; i < 1000; i++) pending.foreign(fwd({ iface: 'eth0', clientPort: 1024 + i, id: i }), 1000 + i / 1000);
    expect(pending.forwarded(fwd({ iface: 'eth0', clientPort: 40000, id: 77 }), 1001)).toBe(true);
    expect(shares(pending).get('eth0')!.size).toBe(15);
    expect(shares(pending).get('veth1')!.size).toBe(1);
    // the uplink's newest stay, the cap holds, and every key pushed out was counted
    expect(pending.forwarded(fwd({ iface: 'eth0', clientPort: 1024 + 999, id: 999 }), 1001)).toBe(true);
    expect(pending.forwarded(fwd({ iface: 'eth0', clientPort: 1024 + 984, id: 984 }), 1001)).toBe(false);
    expect(stats.inboundEvicted).toBe(1000 - 15);
  });

  it('an interface holding more than another loses its oldest to the other\'s new keys; on a tie the newcomer\'s interface does', () => {
    const { pending, stats } = setup(4, 10_000);
    for (let i = 0; i < 3; i++) pending.foreign(fwd({ iface: 'docker0', id: i }), 1000 + i);
    pending.foreign(fwd({ iface: 'eth0', id: 10 }), 1010);
    // eth0 1, docker0 3: docker0's oldest goes
    pending.foreign(fwd({ iface: 'eth0', id: 11 }), 1011);
    expect(pending.forwarded(fwd({ id: 0 }), 1012)).toBe(false);
    expect(pending.forwarded(fwd({ id: 1 }), 1012)).toBe(true);
    // eth0 2, docker0 2: a third on eth0 pushes out eth0's oldest, not docker0's
    pending.foreign(fwd({ iface: 'eth0', id: 12 }), 1013);
    expect(pending.forwarded(fwd({ id: 10 }), 1014)).toBe(false);
    expect(pending.forwarded(fwd({ id: 1 }), 1014)).toBe(true);
    expect(stats.inboundEvicted).toBe(2);
    // an interface whose keys all left is forgotten (veths come and go)
    pending.foreign(fwd({ iface: 'veth9', id: 20 }), 20_000);
    expect([...shares(pending).keys()]).toEqual(['veth9']);
  });

  it('without interfaces recorded (Linux cooked v1: \'\') every inbound query shares one cap, oldest first: a flood still pushes a guest\'s out', () => {
    const { pending, stats } = setup(16, 10_000);
    pending.foreign(fwd({ iface: '', clientPort: 40000, id: 77 }), 1000);
    for (let i = 0; i < 16; i++) pending.foreign(fwd({ iface: '', clientPort: 1024 + i, id: i }), 1000);
    expect(pending.forwarded(fwd({ iface: '', clientPort: 40000, id: 77 }), 1000)).toBe(false);
    expect(stats.inboundEvicted).toBe(1);
  });

  it('inbound queries that leave by their timeout are not counted as pushed out', () => {
    const { pending, stats } = setup(4, 10_000);
    for (let i = 0; i < 4; i++) pending.foreign(fwd({ id: i }), 0);
    for (let i = 0; i < 4; i++) pending.foreign(fwd({ id: 100 + i }), 10_000);
    expect(pending.forwarded(fwd({ id: 0 }), 10_000)).toBe(false);
    expect(stats.inboundEvicted).toBe(0);
  });

  it('a host that is itself a busy DNS server: its own exchanges are neither pushed out nor taken for forwarded', () => {
    // every query to it is inbound; between two of its own queries come hundreds of them
    const { pending, stats } = setup(64, 10_000);
    const question = base.question;
    for (let i = 0; i < 20_000; i++) {
      const nowMs = i;
      pending.foreign({ iface: 'en0', clientPort: 1024 + ((i * 7919) % 60_000), id: (i * 31) & 0xffff, question }, nowMs);
      if (i % 500 === 0) {
        const own = key({ clientPort: 40_000 + i / 500, id: 0x8000 + i / 500 });
        expect(pending.forwarded(own, nowMs)).toBe(false);
        pending.sent(own, nowMs);
      }
      if (i % 500 === 250) expect(pending.answered(key({ clientPort: 40_000 + (i - 250) / 500, id: 0x8000 + (i - 250) / 500 }), nowMs).kind).toBe('matched');
    }
    expect(stats).toMatchObject({ evicted: 0, revokedAtCap: 0, inboundEvicted: 20_000 - 64 });
    const inbound = (pending as unknown as { inbound: { size: number } }).inbound;
    expect(inbound.size).toBe(64);
  });
});
