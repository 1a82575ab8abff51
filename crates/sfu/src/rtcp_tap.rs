//! Lets the RTCP the router acts on reach it.
//!
//! The stack's interceptor chain ends inbound RTCP before the application
//! unless some interceptor marks a packet for delivery. The router needs
//! keyframe requests (to forward to the publisher feeding a slot) and
//! reports (receiver reports, and the report blocks inside sender reports,
//! for RTT/loss/jitter per link). This interceptor marks exactly those and
//! passes everything through unchanged, so NACK and report interceptors
//! still see every packet.
//!
//! A publisher needs the same tap with another choice: keyframe requests
//! and bit-rate ceilings (REMB), while NACKs stay with the stack's
//! responder and reports with the report interceptors. The load generator
//! and the test peers use that one.

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use std::collections::VecDeque;
use std::time::Instant;

/// Where the tap sits in the chain: application-side of every stock
/// interceptor, so marking happens after they have all read the packet.
pub const TAP_SLOT: usize = 14_000;

/// Marks the RTCP its owner acts on for delivery to the application.
pub struct RtcpTap {
    wanted: fn(&dyn rtc::rtcp::Packet) -> bool,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl RtcpTap {
    /// What the router acts on: keyframe requests and reports.
    pub fn router() -> RtcpTap {
        RtcpTap::marking(|p| asks_keyframe(p) || carries_report(p))
    }

    /// What a publisher acts on: keyframe requests and bit-rate ceilings.
    pub fn publisher() -> RtcpTap {
        RtcpTap::marking(|p| asks_keyframe(p) || bitrate_ceiling(p).is_some())
    }

    fn marking(wanted: fn(&dyn rtc::rtcp::Packet) -> bool) -> RtcpTap {
        RtcpTap {
            wanted,
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }
}

/// Whether an RTCP packet asks for a keyframe (PLI or FIR).
pub fn asks_keyframe(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// The bit rate a REMB packet asks for, in bit/s.
pub fn bitrate_ceiling(packet: &dyn rtc::rtcp::Packet) -> Option<f32> {
    packet
        .as_any()
        .downcast_ref::<ReceiverEstimatedMaximumBitrate>()
        .map(|remb| remb.bitrate)
}

fn carries_report(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<ReceiverReport>() || any.is::<SenderReport>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for RtcpTap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            if packets.iter().any(|p| (self.wanted)(p.as_ref())) {
                msg.message.add(Attribute::DeliverToApplication);
            }
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

impl Interceptor for RtcpTap {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
