//! Packet-in rate limiting of one connection (`Controller`
//! `controller_rate_limit` / `controller_burst_limit`), with OVS's
//! pinsched semantics: a token bucket of `burst` packets refilled at
//! `rate` packets a second; a packet-in that finds no backlog and a token
//! goes out at once ("bypassed"), any other one is queued ("queued") on
//! the queue of its input port; queues drain round-robin by port as
//! tokens come back; a full backlog (`burst` packets) drops one packet of
//! the longest queue ("dropped").
//!
//! Tokens are counted in thousandths of a packet per millisecond, as
//! OVS's token bucket does, so the rate is exact for any whole number of
//! packets a second. Queues are kept in a `BTreeMap` by port (few ports
//! ever have a backlog); the round-robin cursor is the next port number
//! to serve.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Tokens one packet costs.
const PACKET: u64 = 1000;

/// Most queued packet-ins one [`PinSched::run`] sends (OVS's pinsched_run
/// bound, so that a long backlog does not hold up the other work of the
/// loop); the rest go on the next run, which [`PinSched::next_due`] asks
/// for at once while tokens remain.
pub const RUN_BATCH: usize = 50;

/// Counters, as OVS's `pinsched_stats` (Controller `status`
/// `packet-in-{action,miss}-{backlog,bypassed,queued,dropped}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinStats {
    /// Packets waiting now.
    pub backlog: u64,
    /// Sent without queueing.
    pub bypassed: u64,
    /// Queued for the rate limit (some later dropped).
    pub queued: u64,
    /// Dropped from a full backlog.
    pub dropped: u64,
}

/// One scheduler (a connection has one for table misses, one for the
/// other reasons).
#[derive(Debug)]
pub struct PinSched {
    /// Packets a second.
    rate: u64,
    /// Bucket size, in tokens (`burst` packets).
    burst: u64,
    tokens: u64,
    last_fill: Option<Instant>,
    queues: BTreeMap<u16, VecDeque<Vec<u8>>>,
    /// The port whose queue is served next (the first at or after it).
    next_port: u16,
    stats: PinStats,
}

/// OVS's limits: rate at least 1 (default 1000), burst default a quarter
/// of the rate and at least 1.
fn adjust(rate: u32, burst: u32) -> (u64, u64) {
    let rate = if rate == 0 { 1000 } else { rate };
    let burst = if burst == 0 { rate / 4 } else { burst };
    (u64::from(rate), u64::from(burst.max(1)))
}

impl PinSched {
    pub fn new(rate: u32, burst: u32) -> PinSched {
        let (rate, burst) = adjust(rate, burst);
        PinSched {
            rate,
            burst: burst * PACKET,
            tokens: 0,
            last_fill: None,
            queues: BTreeMap::new(),
            next_port: 0,
            stats: PinStats::default(),
        }
    }

    /// New limits; a backlog over the new burst loses its excess.
    pub fn set_limits(&mut self, rate: u32, burst: u32) {
        let (rate, burst) = adjust(rate, burst);
        self.rate = rate;
        self.burst = burst * PACKET;
        self.tokens = self.tokens.min(self.burst);
        while self.stats.backlog > burst {
            self.drop_longest();
        }
    }

    /// (rate, burst) in packets.
    pub fn limits(&self) -> (u64, u64) {
        (self.rate, self.burst / PACKET)
    }

    pub fn stats(&self) -> PinStats {
        self.stats
    }

    /// Refills: `rate` tokens a millisecond, full on first use.
    fn refill(&mut self, now: Instant) {
        match self.last_fill {
            None => {
                self.tokens = self.burst;
                self.last_fill = Some(now);
            }
            Some(last) if now > last => {
                let ms = now.duration_since(last).as_millis() as u64;
                if ms > 0 {
                    self.tokens = self
                        .tokens
                        .saturating_add(ms.saturating_mul(self.rate))
                        .min(self.burst);
                    self.last_fill = Some(last + Duration::from_millis(ms));
                }
            }
            Some(_) => {}
        }
    }

    fn take_token(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= PACKET {
            self.tokens -= PACKET;
            true
        } else {
            false
        }
    }

    /// Offers packet-in `msg` (input port `port`): Some(msg) to send now,
    /// None if it was queued.
    pub fn send(&mut self, port: u16, msg: Vec<u8>, now: Instant) -> Option<Vec<u8>> {
        if self.stats.backlog == 0 && self.take_token(now) {
            self.stats.bypassed += 1;
            return Some(msg);
        }
        if self.stats.backlog * PACKET >= self.burst {
            self.drop_longest();
        }
        self.queues.entry(port).or_default().push_back(msg);
        self.stats.backlog += 1;
        self.stats.queued += 1;
        None
    }

    /// Drops the oldest packet of the longest queue (the lowest port of
    /// equal ones; OVS picks among those at random).
    fn drop_longest(&mut self) {
        let Some((&port, _)) = self.queues.iter().rev().max_by_key(|(_, q)| q.len()) else {
            return;
        };
        self.stats.dropped += 1;
        self.pop(port);
    }

    fn pop(&mut self, port: u16) -> Option<Vec<u8>> {
        let q = self.queues.get_mut(&port)?;
        let m = q.pop_front();
        if q.is_empty() {
            self.queues.remove(&port);
        }
        if m.is_some() {
            self.stats.backlog -= 1;
        }
        m
    }

    /// The queued packet-ins that tokens allow now, round-robin by port,
    /// at most [`RUN_BATCH`] of them.
    pub fn run(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        let mut n = 0;
        while n < RUN_BATCH && self.stats.backlog > 0 && self.take_token(now) {
            n += 1;
            let port = self
                .queues
                .range(self.next_port..)
                .next()
                .or_else(|| self.queues.iter().next())
                .map(|(p, _)| *p);
            let Some(port) = port else { break };
            if let Some(m) = self.pop(port) {
                out.push(m);
            }
            // Past the last port number it wraps to 0: start over.
            self.next_port = port.wrapping_add(1);
        }
    }

    /// When the next queued packet may go (None: nothing queued).
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        if self.stats.backlog == 0 {
            return None;
        }
        if self.tokens >= PACKET {
            // A run stopped at its batch bound: go on at once.
            return Some(now);
        }
        let missing = PACKET.saturating_sub(self.tokens);
        let ms = missing.div_ceil(self.rate);
        let base = self.last_fill.unwrap_or(now);
        Some((base + Duration::from_millis(ms.max(1))).max(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(i: u8) -> Vec<u8> {
        vec![i]
    }

    #[test]
    fn burst_then_queue_then_drop() {
        let t0 = Instant::now();
        // 100/s, burst 25 (OVS's smallest settings).
        let mut s = PinSched::new(100, 25);
        let mut sent = 0;
        for i in 0..100u8 {
            if s.send(1, pkt(i), t0).is_some() {
                sent += 1;
            }
        }
        // 25 tokens at once; 75 queued, of which all but 25 dropped.
        assert_eq!(sent, 25);
        assert_eq!(
            s.stats(),
            PinStats {
                backlog: 25,
                bypassed: 25,
                queued: 75,
                dropped: 50
            }
        );
        // 100 ms later: 10 tokens, 10 packets out, the oldest survivors
        // (drops took the oldest of the queue).
        let mut out = Vec::new();
        s.run(t0 + Duration::from_millis(100), &mut out);
        assert_eq!(out, (75..85).map(pkt).collect::<Vec<_>>());
        assert_eq!(s.stats().backlog, 15);
        // Queued packets go first: a new one joins the queue even with a
        // token to spare.
        assert!(s
            .send(1, pkt(200), t0 + Duration::from_millis(110))
            .is_none());
        assert_eq!(s.stats().queued, 76);
    }

    #[test]
    fn queues_drain_round_robin_by_port() {
        let t0 = Instant::now();
        let mut s = PinSched::new(1000, 1);
        assert!(s.send(1, pkt(0), t0).is_some());
        // Backlog limit 1: each new packet pushes out the previous one
        // unless another port's queue is as long.
        assert!(s.send(1, pkt(1), t0).is_none());
        assert!(s.send(2, pkt(2), t0).is_none());
        assert_eq!(s.stats().dropped, 1);
        assert_eq!(s.stats().backlog, 1);
        let mut s = PinSched::new(1000, 4);
        for (p, i) in [(1, 0), (1, 1), (1, 2), (1, 3), (2, 4), (3, 5)] {
            let _ = s.send(p, pkt(i), t0);
        }
        // 4 went out at once (the bucket); (2,4) and (3,5) wait.
        let mut out = Vec::new();
        s.run(t0 + Duration::from_millis(10), &mut out);
        assert_eq!(out, vec![pkt(4), pkt(5)]);
        let mut s = PinSched::new(1000, 3);
        for i in 0..3 {
            let _ = s.send(9, pkt(i), t0);
        }
        for (p, i) in [(1, 10), (1, 11), (2, 20)] {
            assert!(s.send(p, pkt(i), t0).is_none());
        }
        let mut out = Vec::new();
        s.run(t0 + Duration::from_millis(3), &mut out);
        // Port 1, port 2, back to port 1.
        assert_eq!(out, vec![pkt(10), pkt(20), pkt(11)]);
        assert_eq!(s.next_due(t0), None);
    }

    #[test]
    fn a_run_sends_at_most_a_batch() {
        let t0 = Instant::now();
        // 1000/s, burst 200: the bucket empties into the first 200.
        let mut s = PinSched::new(1000, 200);
        for i in 0..400u32 {
            let _ = s.send(1 + (i % 3) as u16, vec![i as u8], t0);
        }
        assert_eq!(s.stats().bypassed, 200);
        assert_eq!(s.stats().backlog, 200);
        // 150 ms later: 150 tokens, but one run sends 50 and asks to be
        // run again at once.
        let t1 = t0 + Duration::from_millis(150);
        let mut out = Vec::new();
        s.run(t1, &mut out);
        assert_eq!(out.len(), RUN_BATCH);
        assert_eq!(s.next_due(t1), Some(t1));
        s.run(t1, &mut out);
        s.run(t1, &mut out);
        assert_eq!(out.len(), 150);
        // Tokens spent: the next is due in a millisecond.
        s.run(t1, &mut out);
        assert_eq!(out.len(), 150);
        assert_eq!(s.next_due(t1), Some(t1 + Duration::from_millis(1)));
        assert_eq!(s.stats().backlog, 50);
    }

    #[test]
    fn due_time_and_new_limits() {
        let t0 = Instant::now();
        let mut s = PinSched::new(100, 25);
        for i in 0..40 {
            let _ = s.send(1, pkt(i), t0);
        }
        // One token every 10 ms.
        assert_eq!(s.next_due(t0), Some(t0 + Duration::from_millis(10)));
        s.set_limits(0, 0);
        assert_eq!(s.limits(), (1000, 250));
        s.set_limits(200, 5);
        assert_eq!(s.stats().backlog, 5);
        assert_eq!(s.stats().dropped, 10);
    }
}
