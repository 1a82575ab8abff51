//! Synthetic WebRTC clients for diemcau's tests and its load generator.
//!
//! [`Peer`] is one peer connection of the async `webrtc` crate on loopback
//! (host candidates on 127.0.0.1 only, mDNS off), with the options each
//! user needs: the codecs it offers, the audio level extension, the SFU's
//! RTCP tap, short ICE timeouts, and what to do with each track that
//! arrives. The load generator's publishers and viewers and the tests'
//! [`TestPeer`] are built on it.
//!
//! A [`TestPeer`] publishes synthetic Opus and VP8 RTP whose payload names
//! the sender and counts packets ([`payload`]), answers keyframe requests
//! with a keyframe, and records every packet it receives by the stream it
//! arrived on (the server's slot: `chair`, `floor`, `tile-<code>`) and the
//! sender named in the payload. [`whip`] posts its offer to a WHIP or WHEP
//! endpoint, through [`http`], a client that talks to loopback servers
//! only.
//!
//! Only the tests and the load generator link this crate (and with it the
//! async `webrtc` crate); the server never does.

mod error;
pub mod http;
pub mod payload;
mod peer;
mod test_peer;
pub mod whip;

pub use error::Error;
pub use payload::{parse_marker, Marker};
pub use peer::{codec, local_track, IceTimeouts, OnTrack, Peer, PeerOptions};
pub use test_peer::{content_name, ContentLine, Received, Rx, TestPeer};
