//! Adding flows and groups to a bridge in-process from `ovs-ofctl` text
//! (`add-flow` syntax): what tests, learn-style tools and `ofproto/trace`
//! fixtures use instead of an OpenFlow connection. Goes through the same
//! flow-mod path as a controller's OFPFC_ADD.

use ferrovs_openflow::text::wire::flow_to_wire;
use ferrovs_openflow::text::FlowText;

use crate::flow_mod::FlowModReq;
use crate::ofproto::Ofproto;

#[derive(Debug, thiserror::Error)]
pub enum FlowTextError {
    #[error("parse: {0}")]
    Parse(String),
    #[error("flow-mod rejected: {0:?}")]
    Rejected(ferrovs_openflow::ErrorCode),
}

impl Ofproto {
    /// `ovs-ofctl add-flow BRIDGE TEXT`, in-process.
    pub fn add_flow_text(&mut self, text: &str) -> Result<(), FlowTextError> {
        let ft = FlowText::parse(text, true).map_err(|e| FlowTextError::Parse(e.to_string()))?;
        let (m, insts) = flow_to_wire(&ft).map_err(|e| FlowTextError::Parse(e.to_string()))?;
        m.check_prereqs()
            .map_err(|e| FlowTextError::Rejected(e.code))?;
        let mut req = FlowModReq::add(ft.table.unwrap_or(0), ft.priority, &m, insts);
        req.new_cookie = Some(ft.cookie);
        req.idle_timeout = ft.idle_timeout;
        req.hard_timeout = ft.hard_timeout;
        let now = self.now();
        let mut changes = Vec::new();
        self.apply_flow_mod(req, now, &mut changes)
            .map_err(FlowTextError::Rejected)?;
        self.commit_changes(changes, None, 0);
        Ok(())
    }
}

impl Ofproto {
    /// Deletes every flow of every table (flow-removed reason DELETE), then
    /// every group and meter, as OVS's `ofproto_flush_flows` does when a
    /// bridge's fail mode or the presence of primary controllers changes
    /// (vswitchd then re-adds the standalone `priority=0 actions=NORMAL`).
    pub fn flush(&mut self) {
        let mut req = FlowModReq::add(0xff, 0, &ferrovs_openflow::Match::default(), Vec::new());
        req.command = ferrovs_openflow::message::FlowModCommand::Delete;
        req.new_cookie = None;
        let now = self.now();
        let mut changes = Vec::new();
        if self.apply_flow_mod(req, now, &mut changes).is_ok() {
            self.commit_changes(changes, None, 0);
        }
        let groups: Vec<u32> = self.groups.keys().copied().collect();
        self.delete_groups(&groups, None, 0);
        for (_, m) in std::mem::take(&mut self.meters) {
            crate::dp_meter::free_id(m.dp_id);
        }
    }
}
