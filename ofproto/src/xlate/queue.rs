//! `set_queue`, `pop_queue` and OpenFlow 1.0 `enqueue`: the queue becomes
//! the packet's `skb_priority`, committed as `set(skb_priority(...))`
//! before the next output. On the userspace datapath a queue's priority
//! is its number (OVS's `dpif_netdev_queue_to_priority`).
//!
//! `pop_queue` goes back to the priority the packet came with; packets
//! enter the userspace datapath with priority 0, which is what it
//! restores.

use ferrovs_datapath::flow::layout as dp;

use super::Ctx;

impl Ctx<'_, '_> {
    fn skb_priority(&self) -> u32 {
        self.flow.bits(dp::W_MD1, dp::SKB_PRIORITY.shift as u32, 32) as u32
    }

    fn set_skb_priority(&mut self, p: u32) {
        // As OVS, the queue actions put skb_priority in the megaflow.
        self.wc.0[dp::W_MD1] |= dp::SKB_PRIORITY.word_mask();
        self.flow
            .set_bits(dp::W_MD1, dp::SKB_PRIORITY.shift as u32, 32, p as u64);
    }

    /// `set_queue:Q`.
    pub(crate) fn set_queue(&mut self, queue: u32) {
        self.set_skb_priority(queue);
    }

    /// `pop_queue`.
    pub(crate) fn pop_queue(&mut self) {
        self.set_skb_priority(0);
    }

    /// `enqueue:PORT:Q`: output with the queue's priority, which lasts
    /// for this output only.
    pub(crate) fn enqueue(&mut self, port: u16, queue: u32) {
        let old = self.skb_priority();
        self.set_skb_priority(queue);
        self.output(port, 0);
        self.set_skb_priority(old);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{bridge, run};

    #[test]
    fn queues_become_skb_priority() {
        let b = bridge(
            "br0",
            &[1, 2, 3],
            &[
                "in_port=1 actions=set_queue:5,output:2,pop_queue,output:3",
                "in_port=2 actions=enqueue:3:7,output:1",
            ],
        );
        assert_eq!(
            run(&b, "in_port=1"),
            "set(skb_priority(0x5)),102,set(skb_priority(0)),103"
        );
        assert_eq!(
            run(&b, "in_port=2"),
            "set(skb_priority(0x7)),103,set(skb_priority(0)),101"
        );
    }
}
