//! RDB type bytes and opcodes (Redis's `rdb.h`).

/// String.
pub const TYPE_STRING: u8 = 0;
/// Linked list of strings.
pub const TYPE_LIST: u8 = 1;
/// Set of strings.
pub const TYPE_SET: u8 = 2;
/// Sorted set with text scores.
pub const TYPE_ZSET: u8 = 3;
/// Hash of strings.
pub const TYPE_HASH: u8 = 4;
/// Sorted set with binary scores.
pub const TYPE_ZSET_2: u8 = 5;
/// Module value (pre-GA).
pub const TYPE_MODULE_PRE_GA: u8 = 6;
/// Module value.
pub const TYPE_MODULE_2: u8 = 7;
/// Hash as a zipmap (Redis 2.4).
pub const TYPE_HASH_ZIPMAP: u8 = 9;
/// List as a ziplist.
pub const TYPE_LIST_ZIPLIST: u8 = 10;
/// Set as an intset.
pub const TYPE_SET_INTSET: u8 = 11;
/// Sorted set as a ziplist.
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
/// Hash as a ziplist.
pub const TYPE_HASH_ZIPLIST: u8 = 13;
/// List as a quicklist of ziplists.
pub const TYPE_LIST_QUICKLIST: u8 = 14;
/// Stream (v1).
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
/// Hash as a listpack.
pub const TYPE_HASH_LISTPACK: u8 = 16;
/// Sorted set as a listpack.
pub const TYPE_ZSET_LISTPACK: u8 = 17;
/// List as a quicklist of listpacks and plain nodes.
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
/// Stream (v2).
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
/// Set as a listpack.
pub const TYPE_SET_LISTPACK: u8 = 20;
/// Stream (v3).
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;
/// Hash with field TTLs, absolute (7.4 release candidates).
pub const TYPE_HASH_METADATA_PRE_GA: u8 = 22;
/// Listpack hash with field TTLs (7.4 release candidates).
pub const TYPE_HASH_LISTPACK_EX_PRE_GA: u8 = 23;
/// Hash with field TTLs relative to a stored minimum (7.4).
pub const TYPE_HASH_METADATA: u8 = 24;
/// Listpack hash with field TTLs (7.4).
pub const TYPE_HASH_LISTPACK_EX: u8 = 25;

/// Valkey 8's per-slot sizes (cluster mode).
pub const OP_SLOT_INFO: u8 = 244;
/// A function library.
pub const OP_FUNCTION2: u8 = 245;
/// A function library (pre-GA format).
pub const OP_FUNCTION_PRE_GA: u8 = 246;
/// Module auxiliary data.
pub const OP_MODULE_AUX: u8 = 247;
/// LRU idle time of the next key.
pub const OP_IDLE: u8 = 248;
/// LFU counter of the next key.
pub const OP_FREQ: u8 = 249;
/// An aux field.
pub const OP_AUX: u8 = 250;
/// Hash table size hints.
pub const OP_RESIZEDB: u8 = 251;
/// Deadline of the next key, in ms.
pub const OP_EXPIRETIME_MS: u8 = 252;
/// Deadline of the next key, in seconds.
pub const OP_EXPIRETIME: u8 = 253;
/// Database selector.
pub const OP_SELECTDB: u8 = 254;
/// End of file.
pub const OP_EOF: u8 = 255;

/// Quicklist 2 container: a plain node (one big element).
pub const QUICKLIST_PLAIN: u64 = 1;
/// Quicklist 2 container: a packed node (listpack).
pub const QUICKLIST_PACKED: u64 = 2;

/// Redis's `rdbIsObjectType`.
pub fn is_object_type(t: u8) -> bool {
    t <= 7 && t != 8 || (9..=25).contains(&t)
}
