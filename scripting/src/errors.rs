//! Redis's error texts for scripting, in one place.

/// `redis.call` of a command a script may not run.
pub const NOSCRIPT_CMD: &str = "This Redis command is not allowed from script";
/// `redis.call` of an unknown command.
pub const UNKNOWN_CMD: &str = "Unknown Redis command called from script";
/// `redis.call` with the wrong number of arguments.
pub const WRONG_ARGS: &str = "Wrong number of args calling Redis command from script";
/// A write from a `no-writes` script or EVAL_RO/FCALL_RO.
pub const RO_WRITE: &str = "Write commands are not allowed from read-only scripts.";
/// A `denyoom` command from a script without `allow-oom` while over maxmemory.
pub const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.";
/// EVALSHA of an unknown SHA1.
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
/// Other clients while a script runs past busy-reply-threshold.
pub const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// Other clients while a function runs past busy-reply-threshold.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
/// SCRIPT KILL / FUNCTION KILL with nothing running.
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
/// SCRIPT KILL of a script that wrote.
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
/// The error a killed script ends with (before the script/line suffix).
pub const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
