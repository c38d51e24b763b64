//! The OpenFlow 1.1+ action set that `write_actions` fills.
//!
//! A short list holding at most one action of each kind (one per field for
//! `set_field`): writing an action replaces the one of its kind. It runs at
//! the end of the pipeline in the fixed order of OpenFlow 1.3 section
//! 5.10 (pops, pushes, TTL, sets, queue, then group or else output).

use ferrovs_openflow::action::Action;

#[derive(Debug, Default, Clone)]
pub struct ActionSet {
    acts: Vec<Action>,
}

/// (execution rank, identity within the rank) of an action.
fn kind(a: &Action) -> (u8, u32) {
    use Action as A;
    match a {
        A::CopyTtlIn => (0, 0),
        A::PopVlan => (1, 0),
        A::PopMpls(_) => (1, 1),
        A::PopPbb => (1, 2),
        A::PushMpls(_) => (2, 0),
        A::PushPbb(_) => (3, 0),
        A::PushVlan(_) => (4, 0),
        A::CopyTtlOut => (5, 0),
        A::DecMplsTtl => (6, 0),
        A::DecTtl | A::DecTtlCntIds(_) => (6, 1),
        A::SetField { field, .. } => (7, *field as u32),
        A::SetQueue(_) => (8, 0),
        A::Group(_) => (9, 0),
        A::Output { .. } | A::OutputReg { .. } | A::OutputTrunc { .. } | A::Enqueue { .. } => {
            (10, 0)
        }
        // Other actions (Nicira sets, mod_*) are kept by their variant.
        other => (7, 0x1_0000 + discriminant_index(other)),
    }
}

fn discriminant_index(a: &Action) -> u32 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::mem::discriminant(a).hash(&mut h);
    (h.finish() & 0xffff) as u32
}

impl ActionSet {
    pub fn is_empty(&self) -> bool {
        self.acts.is_empty()
    }

    pub fn clear(&mut self) {
        self.acts.clear();
    }

    /// `write_actions(acts)`: each replaces the action of its kind.
    pub fn write(&mut self, acts: &[Action]) {
        for a in acts {
            let k = kind(a);
            self.acts.retain(|b| kind(b) != k);
            self.acts.push(a.clone());
        }
    }

    /// The actions in execution order; a group hides the output.
    pub fn into_ordered(mut self) -> Vec<Action> {
        if self.acts.iter().any(|a| kind(a).0 == 9) {
            self.acts.retain(|a| kind(a).0 != 10);
        }
        self.acts.sort_by_key(|a| kind(a).0);
        self.acts
    }
}
