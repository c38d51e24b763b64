//! UDP, ICMP and other protocols: a connection is only a count of which
//! directions have been seen, as in OVS.
//!
//! UDP (and SCTP and anything not TCP or ICMP) goes first -> multiple (more
//! packets one way) -> bidirectional (a reply seen); it is `est` once a
//! reply was seen. ICMP queries go first -> reply. The state picks the
//! timeout class.

use super::tcp::Update;
use super::timeouts::Tm;

/// State of a UDP or other-protocol connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherState {
    First,
    Multiple,
    Bidir,
}

impl OtherState {
    pub fn tm(self) -> Tm {
        match self {
            OtherState::First => Tm::OtherFirst,
            OtherState::Multiple => Tm::OtherMultiple,
            OtherState::Bidir => Tm::OtherBidir,
        }
    }
    /// A packet in direction `reply`.
    pub fn update(&mut self, reply: bool) -> (Update, Tm) {
        if reply && *self != OtherState::Bidir {
            *self = OtherState::Bidir;
        } else if *self == OtherState::First {
            *self = OtherState::Multiple;
        }
        let u = if *self == OtherState::Bidir {
            Update::Valid
        } else {
            Update::ValidNew
        };
        (u, self.tm())
    }
}

/// State of an ICMP query connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpState {
    First,
    Reply,
}

impl IcmpState {
    pub fn tm(self) -> Tm {
        match self {
            IcmpState::First => Tm::IcmpFirst,
            IcmpState::Reply => Tm::IcmpReply,
        }
    }
    pub fn update(&mut self, reply: bool) -> (Update, Tm) {
        let mut u = Update::Valid;
        if reply && *self == IcmpState::First {
            *self = IcmpState::Reply;
        } else if *self == IcmpState::First {
            u = Update::ValidNew;
        }
        (u, self.tm())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_states() {
        let mut s = OtherState::First;
        assert_eq!(s.update(false), (Update::ValidNew, Tm::OtherMultiple));
        assert_eq!(s.update(false), (Update::ValidNew, Tm::OtherMultiple));
        assert_eq!(s.update(true), (Update::Valid, Tm::OtherBidir));
        assert_eq!(s.update(false), (Update::Valid, Tm::OtherBidir));
    }

    #[test]
    fn icmp_states() {
        let mut s = IcmpState::First;
        assert_eq!(s.update(false), (Update::ValidNew, Tm::IcmpFirst));
        assert_eq!(s.update(true), (Update::Valid, Tm::IcmpReply));
        assert_eq!(s.update(false), (Update::Valid, Tm::IcmpReply));
    }
}
