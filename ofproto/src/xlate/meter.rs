//! `meter:N` (the OpenFlow 1.3 instruction and the 1.5 action): the
//! datapath `meter` action with the meter's datapath id, emitted where the
//! meter applies (before the rule's actions for the instruction). The
//! datapath's [`DpMeters`](crate::dp_meter::DpMeters) hook then passes or
//! drops each packet. A meter that does not exist translates to nothing,
//! as in OVS.

use ferrovs_datapath::actions::DpAction;

use super::Ctx;

impl Ctx<'_, '_> {
    /// Meter `id` of the current bridge.
    pub(crate) fn meter(&mut self, id: u32) {
        if let Some(m) = self.br().ofproto.meter(id) {
            self.out.actions.push(DpAction::Meter(m.dp_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{bridge, run};
    use crate::meter::Meter;

    #[test]
    fn meter_instruction_and_action_use_the_datapath_id() {
        let mut b = bridge("br0", &[1, 2], &[]);
        let now = b.of.now();
        let dp_id = crate::dp_meter::alloc_id();
        b.of.meters.insert(
            7,
            Meter {
                meter_id: 7,
                flags: 2,
                bands: Vec::new(),
                created: now,
                packet_in_count: 0,
                byte_in_count: 0,
                band_counts: Vec::new(),
                dp_id,
            },
        );
        b.of.add_flow_text("in_port=1 actions=meter:7,output:2")
            .unwrap();
        b.of.add_flow_text("in_port=2 actions=meter:8,output:1")
            .unwrap_err();
        assert_eq!(run(&b, "in_port=1"), format!("meter({dp_id}),102"));
        crate::dp_meter::free_id(dp_id);
    }
}
