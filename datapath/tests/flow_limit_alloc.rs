//! At the flow limit, a missed packet is executed without building a
//! megaflow: a PMD polling a stream of new flows at the limit allocates
//! nothing. Counted by a global allocator that counts the allocations of
//! the thread that asks (this test binary has just this one test).

mod common;
use common::frames::udp4_to;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::flow::layout::*;
use ferrovs_datapath::flow::{Flow, FlowKey};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallError, UpcallHandler, UpcallReply};
use ferrovs_datapath::{Datapath, DpConfig};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note_alloc() {
    // `try_with`: the thread-locals may be gone while a thread exits.
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        }
    });
}

// SAFETY: forwards every call to the system allocator unchanged; only
// counts (thread-local cells with const initializers, which never
// allocate).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note_alloc();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations made by this thread while running `f`.
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(|a| a.get())
}

/// Output to port 2, exact on nw_dst, with the handler's shared mask (a
/// slow path keeps its masks; handing one over does not allocate).
struct ToPort2;

fn shared_mask() -> Arc<FlowKey> {
    static M: OnceLock<Arc<FlowKey>> = OnceLock::new();
    M.get_or_init(|| {
        let mut m = Flow::default();
        m.set_all(DL_TYPE);
        m.set_all(NW_DST);
        Arc::new(m.to_key())
    })
    .clone()
}

impl UpcallHandler for ToPort2 {
    fn miss(&self, _p: &DpPacket, _k: &FlowKey, r: &mut UpcallReply) -> Result<(), UpcallError> {
        r.actions.push(DpAction::Output(2));
        r.shared_mask = Some(shared_mask());
        Ok(())
    }
}

#[test]
fn misses_at_the_flow_limit_allocate_nothing() {
    // The counter sees this thread's allocations.
    assert_eq!(allocations(|| drop(std::hint::black_box(vec![1u8]))), 1);
    let dp = Datapath::new(
        DpConfig {
            flow_limit: 4,
            ..DpConfig::default()
        },
        Arc::new(ToPort2),
    );
    let p1 = MemNetdev::new("p1", 1, 1);
    let p2 = MemNetdev::new("p2", 1, 1);
    dp.add_port(1, p1.clone()).unwrap();
    dp.add_port(2, p2.clone()).unwrap();
    let mut pmd = dp.pmd_inline(0).unwrap();
    let mut next = 0u32;
    let mut round = |pmd: &mut ferrovs_datapath::Pmd| {
        // Packets are made and taken back outside the counted region.
        for _ in 0..32 {
            assert!(p1.inject(0, udp4_to(next)));
            next += 1;
        }
        let n = allocations(|| {
            pmd.poll_once();
        });
        assert_eq!(p2.take_tx(0).len(), 32, "all forwarded");
        n
    };
    // Fill up to the limit, then warm the per-batch buffers up.
    for _ in 0..4 {
        round(&mut pmd);
    }
    assert_eq!(dp.flow_count(), 4);
    let mut total = 0;
    for _ in 0..100 {
        total += round(&mut pmd);
    }
    assert_eq!(dp.flow_count(), 4);
    assert_eq!(pmd.stats().flow_limit_hits, 32 * 104 - 4);
    assert_eq!(total, 0, "allocations for 3200 misses at the flow limit");
}
