//! The `ovs-ofctl` flow and action syntax (parser and printer), written on
//! top of the wire types by the text side (branch `oftext`).  Placeholder
//! so that both sides compile.
