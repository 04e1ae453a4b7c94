//! Domain separation strings of draft-ietf-ppm-dap-18, for callers that do the HPKE and VDAF
//! work themselves: the HPKE `info` of input shares (§4.4.2.1, §4.5.3.3) and aggregate shares
//! (§4.6.7), and the VDAF application context (§4.4.2.1, §4.5.3.1).
//!
//! The draft says these become `"dap"` once it is an RFC; this crate follows -18.

use crate::types::{Role, TaskId};

/// The version tag of draft 18, prefixed to every domain separation string.
pub const VERSION_TAG: &str = "dap-18";

/// `"dap-18 input share" || 0x01 || server_role`: the HPKE `info` a Client seals an input
/// share to `server_role` (Leader or Helper) with.
pub fn input_share_info(server_role: Role) -> Vec<u8> {
    let mut v = b"dap-18 input share".to_vec();
    v.push(Role::Client as u8);
    v.push(server_role as u8);
    v
}

/// `"dap-18 aggregate share" || server_role || 0x00`: the HPKE `info` an Aggregator in
/// `server_role` seals its aggregate share to the Collector with.
pub fn aggregate_share_info(server_role: Role) -> Vec<u8> {
    let mut v = b"dap-18 aggregate share".to_vec();
    v.push(server_role as u8);
    v.push(Role::Collector as u8);
    v
}

/// `"dap-18" || task_id`: the VDAF application context string (`ctx`) of a task.
pub fn vdaf_application_context(task_id: &TaskId) -> Vec<u8> {
    let mut v = VERSION_TAG.as_bytes().to_vec();
    v.extend_from_slice(&task_id.0);
    v
}
