//! Integration webhooks, as developers.notion.com/reference/webhooks and
//! /reference/webhooks-events-delivery document them: a subscription receives a one-time,
//! unsigned verification request (`{"verification_token": "secret_…"}`), then signed event
//! deliveries (`X-Notion-Signature: sha256=<HMAC-SHA256 of the body keyed with the token>`) for
//! every page the API or `/__admin` creates, updates, trashes or restores, the integration's own
//! writes included. Delivery is at least once, on a background thread: aggregated per page,
//! retried with backoff, and on request reordered, duplicated or lost (see [`options`]).

pub mod admin;
pub mod detect;
pub mod event;
pub mod hub;
pub mod options;
pub mod send;
pub mod signature;
pub mod stats;

pub use event::{Author, Change, Event, EventType};
pub use hub::Hub;
pub use options::{DeliveryOptions, SubscriptionSpec};
pub use signature::{sign, SIGNATURE_HEADER};
