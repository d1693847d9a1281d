//! Command families: each module holds the handlers of one group and
//! exports its rows of the command table.

pub mod admin;
pub mod client;
pub mod config;
pub mod connection;
pub mod expire;
pub mod hash;
pub mod info;
pub mod introspection;
pub mod keys;
pub mod list;
pub mod lolwut;
pub mod memory;
pub mod monitor;
pub mod multi;
pub mod persistence;
pub mod pubsub;
pub mod scripting;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod tracking;
pub mod zset;

use crate::command::CommandSpec;

/// Every family's rows; `command::table` joins them.
pub static FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    strings::COMMANDS,
    config::COMMANDS,
    client::COMMANDS,
    introspection::COMMANDS,
    info::COMMANDS,
    admin::COMMANDS,
    keys::COMMANDS,
    expire::COMMANDS,
    zset::COMMANDS,
    sets::COMMANDS,
    sort::COMMANDS,
    hash::COMMANDS,
    list::COMMANDS,
    scripting::COMMANDS,
    multi::COMMANDS,
    pubsub::COMMANDS,
    monitor::COMMANDS,
    persistence::COMMANDS,
    memory::COMMANDS,
];
