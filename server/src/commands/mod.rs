//! Command families: each module holds the handlers of one group and
//! exports its rows of the command table.

pub mod connection;
pub mod expire;
pub mod keys;
pub mod strings;

use crate::command::CommandSpec;

/// Every family's rows; `command::table` joins them.
pub static FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    strings::COMMANDS,
    keys::COMMANDS,
    expire::COMMANDS,
];
