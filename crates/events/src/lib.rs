//! prow-events: CloudEvents over HTTP for every prow-rs function (decode, encode, publish, receive).
//!
//! Everything speaks the CloudEvents 1.0 HTTP protocol binding. Inbound events are decoded in
//! binary mode (`ce-*` headers) or structured mode (`application/cloudevents+json`); outbound
//! events are always sent in binary mode so that receivers which only look at the body (and the
//! raw GitHub payload hook forwards) see the data unchanged.

mod decode;
mod encode;
mod percent;
mod publish;
mod receive;

pub use cloudevents;
pub use cloudevents::{
    AttributesReader, AttributesWriter, Data, Event, EventBuilder, EventBuilderV10,
};
pub use decode::{DecodeError, data_bytes, data_json, decode};
pub use encode::{EncodeError, encode_binary};
pub use publish::{Disposition, PublishError, Publisher, RetryPolicy, classify_status};
pub use receive::{CloudEvent, ReceiveRejection, receive};
