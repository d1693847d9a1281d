//! The wire: request parsing and reply encoding. Knows no commands.

pub mod encode;
pub mod request;
pub mod splitargs;
