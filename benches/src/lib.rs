//! ferrovs-benches: criterion benchmarks (`benches/`) and side-by-side
//! comparison scripts (`scripts/`) that measure ferrovs against Open vSwitch
//! and the Linux bridge on the same machine in the same run.

pub mod ct_rig;
pub mod datapath_rig;
pub mod of_workload;
pub mod thread_cpu;
